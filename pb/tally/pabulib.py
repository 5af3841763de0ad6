"""Reading and writing the Pabulib ``.pb`` format (pabulib.org/format).

A file has three sections, META, PROJECTS and VOTES: a section line, a header row, then
``;``-separated rows, one per line. Reading is lenient where other readers (pabutools)
are and nothing can change the count, and strict where a mistake would silently change it:

- Line endings may be LF, CRLF or CR; a UTF-8 byte order mark is allowed; blank lines
  (and lines of empty fields) are skipped; a section line may have empty fields after it.
- Quotes are read as Python's csv module reads them without ``strict``, as pabutools does
  (``"Green" park`` is ``Green park``), except that a row never runs on to the next line:
  a quote left open ends with its line, so a broken row is reported on its own line.
- Numbers are Pabulib decimals (:func:`~pb.tally.election.parse_number`): ASCII digits
  with an optional decimal part after ``.`` or ``,``. A ``-`` is only accepted where a
  negative value means something (scoring points, point limits and the score threshold);
  counts and lengths are whole numbers.
- A ballot naming a project twice counts it once, in its first (best) place; on points
  ballots it gets the points of all its mentions added up. The file is read, with a line
  in ``Election.warnings``.
- ``num_projects``, ``num_votes`` and each project's ``votes`` (and, for cumulative
  ballots, ``score``) column must agree with what was read, so that a file cut off inside
  VOTES is refused rather than counted. (The real files with repeated projects count
  every mention in ``votes``; that is accepted too.)

Anything malformed raises :class:`PabulibError`, whose message is one line naming the
line number and what is wrong.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

from .election import (
    VOTE_TYPES,
    Ballot,
    Election,
    ElectionError,
    Number,
    Project,
    format_number,
    parse_number,
)

SECTIONS = ("meta", "projects", "votes")
# Ballots carrying points (one value per project in ``vote``).
POINTS_VOTE_TYPES = ("cumulative", "scoring")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Everything str.splitlines() (and so pabutools) breaks a line at.
LINE_BREAKS_IN_VALUE = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")

# Numeric META keys and what their values may be (see _number).
META_NUMBERS = {
    **dict.fromkeys(("num_projects", "num_votes", "min_length", "max_length"), "whole"),
    **dict.fromkeys(("budget", "min_sum_cost", "max_sum_cost", "min_project_cost", "max_project_cost"), "money"),
    # Scoring ballots may give negative points, so their limits and a score threshold may be negative.
    **dict.fromkeys(
        (
            "min_points",
            "max_points",
            "min_sum_points",
            "max_sum_points",
            "default_score",
            "min_project_score_threshold",
        ),
        "signed",
    ),
}


class PabulibError(ElectionError):
    """A malformed Pabulib file. ``str(error)`` is one line: ``line N: what is wrong``."""

    def __init__(self, line: int | None, message: str):
        self.line = line
        self.reason = " ".join(message.split())  # always a single line
        super().__init__(f"line {line}: {self.reason}" if line else self.reason)


def read_pabulib(path: str | Path) -> Election:
    """Read a ``.pb`` file. Raises PabulibError (also for undecodable or unreadable files)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise PabulibError(None, f"cannot read {path}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise PabulibError(line, "the file is not valid UTF-8") from None
    return parse_pabulib(text)


def parse_pabulib(text: str) -> Election:
    """Parse the text of a ``.pb`` file into an Election."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = _Reader()
    last = 1
    for number, line in enumerate(LINE_BREAK.split(text), start=1):
        if line.strip():
            reader.row(number, _fields(line, number))
            last = number
    return reader.finish(last)


def _fields(line: str, number: int) -> list[str]:
    """The stripped fields of one line."""
    if '"' not in line:
        return [field.strip() for field in line.split(";")]
    try:
        return [field.strip() for field in next(csv.reader([line], delimiter=";"))]
    except csv.Error as error:  # e.g. a field over csv's size limit
        raise PabulibError(number, f"CSV error: {error}") from None


def _number(text: str, line: int, what: str, kind: str = "signed") -> Number:
    """The one way the reader reads a number. ``what`` names it, with ``{}`` where the text
    goes (replaced, not formatted: ids may contain braces).

    ``kind``: ``whole`` (digits only: counts and lengths), ``money`` (not negative: budget,
    costs) or ``signed``.
    """
    try:
        value = parse_number(text)
    except ElectionError:
        value = None
    if kind == "whole" and (value is None or not text.isdigit()):
        raise PabulibError(line, f"{what.replace('{}', repr(text), 1)} is not a whole number")
    if value is None:
        raise PabulibError(line, f"{what.replace('{}', repr(text), 1)} is not a number")
    if kind == "money" and value < 0:
        raise PabulibError(line, f"{what.replace(' {}', '', 1)} is negative")
    return value


class _Reader:
    """The state of one parse: rows go in one at a time, in file order."""

    def __init__(self) -> None:
        self.meta: dict[str, str] = {}
        self.meta_lines: dict[str, int] = {}
        self.meta_numbers: dict[str, Number] = {}
        self.projects: dict[str, Project] = {}
        # Per project: its line and the votes (and score) its own columns claim, if any.
        self.claims: dict[str, tuple[int, Number | None, Number | None]] = {}
        self.ballots: list[Ballot] = []
        self.voters: set[str] = set()
        self.sections: list[str] = []
        self.section: str | None = None
        self.header: list[str] | None = None
        self.columns: dict[str, int] = {}
        self.vote_type = "approval"
        self.repeats = 0  # ballots naming a project twice
        self.first_repeat = ""
        # Mentions beyond the first, per project: the real files' votes columns count them.
        self.extra_mentions: dict[str, int] = {}

    def row(self, line: int, row: list[str]) -> None:
        if not any(row):
            return
        if row[0].lower() in SECTIONS and not any(row[1:]):
            self.start_section(line, row[0])
            return
        if self.section is None:
            raise PabulibError(line, "expected section META at the start of the file")
        if self.header is None:
            self.header = row
            self.columns = _check_header(self.section, row, line, self.vote_type)
            return
        if self.section != "votes":
            self.check_for_missing_section(line, row)
        if len(row) != len(self.header):
            raise PabulibError(
                line, f"{len(row)} fields where the {self.section.upper()} header has {len(self.header)}"
            )
        if self.section == "meta":
            self.meta_row(line, row)
        elif self.section == "projects":
            self.project_row(line, row)
        else:
            self.ballot_row(line, row)

    def start_section(self, line: int, title: str) -> None:
        name = title.lower()
        if name in self.sections:
            raise PabulibError(line, f"section {title} appears twice")
        expected = SECTIONS[len(self.sections)]
        if name != expected:
            raise PabulibError(line, f"expected section {expected.upper()}, found {title}")
        self.sections.append(name)
        self.section = name
        self.header = None
        if name == "projects":
            for key in ("budget", "vote_type"):
                if key not in self.meta:
                    raise PabulibError(line, f"META has no {key}")
            self.vote_type = self.meta["vote_type"]

    def check_for_missing_section(self, line: int, row: list[str]) -> None:
        """A header row inside the previous section means its section line is missing."""
        for section, before, header in (
            ("PROJECTS", "meta", ("project_id", "cost")),
            ("VOTES", "projects", ("voter_id", "vote")),
        ):
            if self.section == before and set(header) <= set(row):
                raise PabulibError(
                    line, f"section {section} is missing: expected a line {section} before the {section.lower()} header"
                )

    def meta_row(self, line: int, row: list[str]) -> None:
        key, value = row
        if not key:
            raise PabulibError(line, "empty META key")
        if key in self.meta:
            raise PabulibError(line, f"META key {key!r} appears twice")
        if key in META_NUMBERS:
            self.meta_numbers[key] = _number(value, line, f"META {key} {{}}", META_NUMBERS[key])
        if key == "vote_type" and value not in VOTE_TYPES:
            raise PabulibError(line, f"unknown vote_type {value!r} (expected one of {', '.join(VOTE_TYPES)})")
        self.meta[key] = value
        self.meta_lines[key] = line

    def project_row(self, line: int, row: list[str]) -> None:
        pid = row[self.columns["project_id"]]
        if not pid:
            raise PabulibError(line, "empty project_id")
        if pid in self.projects:
            raise PabulibError(line, f"project {pid!r} appears twice")
        cost = _number(row[self.columns["cost"]], line, f"cost {{}} of project {pid!r}", "money")
        assert self.header is not None  # a data row comes after its section's header
        fields = {
            name: value for name, value in zip(self.header, row, strict=True) if name not in ("project_id", "cost")
        }
        self.projects[pid] = Project(pid, cost, fields)
        votes = _claim(fields.get("votes"), line, f"votes {{}} of project {pid!r}", "whole")
        score = None
        if self.vote_type == "cumulative":  # the only vote type whose score is plain arithmetic
            score = _claim(fields.get("score"), line, f"score {{}} of project {pid!r}", "signed")
        self.claims[pid] = (line, votes, score)

    def ballot_row(self, line: int, row: list[str]) -> None:
        voter_id = row[self.columns["voter_id"]]
        if not voter_id:
            raise PabulibError(line, "empty voter_id")
        if voter_id in self.voters:
            raise PabulibError(line, f"voter {voter_id!r} appears twice")
        raw_vote = row[self.columns["vote"]]
        named = [p.strip() for p in raw_vote.split(",")] if raw_vote else []
        for pid in named:
            if not pid:
                raise PabulibError(line, f"voter {voter_id!r} has an empty project id in {raw_vote!r}")
            if pid not in self.projects:
                raise PabulibError(line, f"voter {voter_id!r} votes for unknown project {pid!r}")
        with_points = self.vote_type in POINTS_VOTE_TYPES
        given: list[Number] = []
        if with_points:
            raw_points = row[self.columns["points"]]
            parts = [p.strip() for p in raw_points.split(",")] if raw_points else []
            if len(parts) != len(named):
                raise PabulibError(line, f"voter {voter_id!r} has {len(named)} projects but {len(parts)} point values")
            what = f"points {{}} of voter {voter_id!r}"
            given = [_number(p, line, what) for p in parts]
            if self.vote_type == "cumulative" and any(p < 0 for p in given):
                raise PabulibError(line, f"voter {voter_id!r} gives negative points")
        vote, points = tuple(named), tuple(given) if with_points else None
        if len(set(vote)) < len(vote):
            vote, points = self.merge_repeats(line, voter_id, named, given)
        if self.vote_type == "choose-1" and len(vote) > 1:
            raise PabulibError(line, f"voter {voter_id!r} chooses {len(vote)} projects on a choose-1 ballot")
        skip = ("voter_id", "vote", "points") if with_points else ("voter_id", "vote")
        assert self.header is not None  # a data row comes after its section's header
        fields = {name: value for name, value in zip(self.header, row, strict=True) if name not in skip}
        self.voters.add(voter_id)
        self.ballots.append(Ballot(voter_id, vote, points, fields))

    def merge_repeats(
        self, line: int, voter_id: str, named: list[str], given: list[Number]
    ) -> tuple[tuple[str, ...], tuple[Number, ...] | None]:
        """A repeated project counts once, in its first (best) place; on points ballots it
        gets the points of every mention added up, so the voter's total stays what it was
        (and the file's score column, which counts every mention, still agrees)."""
        merged: dict[str, Number] = {}
        for index, pid in enumerate(named):
            if pid in merged:
                self.extra_mentions[pid] = self.extra_mentions.get(pid, 0) + 1
                if not self.first_repeat:
                    self.first_repeat = f"line {line}: voter {voter_id!r} names project {pid!r} twice"
            merged[pid] = merged.get(pid, 0) + (given[index] if given else 0)
        self.repeats += 1
        return tuple(merged), (tuple(merged.values()) if given else None)

    def finish(self, end: int) -> Election:
        for name in SECTIONS:
            if name not in self.sections:
                raise PabulibError(end, f"section {name.upper()} is missing")
        if self.header is None:
            raise PabulibError(end, "the VOTES section has no header")
        self.check_count("num_projects", len(self.projects), "projects")
        self.check_count("num_votes", len(self.ballots), "votes")
        self.check_claims()
        warnings = []
        if self.repeats:
            plural = "s" if self.repeats != 1 else ""
            points = ", with its points added up" if self.vote_type in POINTS_VOTE_TYPES else ""
            warnings.append(
                f"{self.first_repeat}; each such project is counted once{points} ({self.repeats} ballot{plural})"
            )
        return Election(self.meta, self.projects, self.ballots, warnings)

    def check_count(self, key: str, actual: int, what: str) -> None:
        claimed = self.meta_numbers.get(key)
        if claimed is not None and claimed != actual:
            cut = " (is the file cut off?)" if key == "num_votes" and actual < claimed else ""
            raise PabulibError(self.meta_lines[key], f"META {key} is {claimed} but the file has {actual} {what}{cut}")

    def check_claims(self) -> None:
        """Each project's own votes (and cumulative score) column must match the ballots read.

        Pabulib checks this of every file it publishes, and it is what tells a file cut off
        inside VOTES when it has no num_votes. A votes column may count a project named
        twice on one ballot once or twice: the real files count every mention, while the
        count (and this reader) counts voters.
        """
        votes = dict.fromkeys(self.projects, 0)
        score: dict[str, Number] = dict.fromkeys(self.projects, 0)
        for ballot in self.ballots:
            for index, pid in enumerate(ballot.vote):
                votes[pid] += 1
                if ballot.points is not None:
                    score[pid] += ballot.points[index]
        for pid, (line, claimed_votes, claimed_score) in self.claims.items():
            mentions = votes[pid] + self.extra_mentions.get(pid, 0)
            if claimed_votes is not None and claimed_votes not in (votes[pid], mentions):
                self.contradiction(line, pid, "votes", claimed_votes, votes[pid])
            if claimed_score is not None and claimed_score != score[pid]:
                self.contradiction(line, pid, "score", claimed_score, score[pid])

    @staticmethod
    def contradiction(line: int, pid: str, column: str, claimed: Number, actual: Number) -> None:
        raise PabulibError(
            line,
            f"project {pid!r} has {column} {format_number(claimed)} but the ballots give "
            f"{format_number(actual)} (is the file cut off or altered?)",
        )


def _claim(text: str | None, line: int, what: str, kind: str) -> Number | None:
    """An optional number column: empty or Pabulib's ``None`` means not given."""
    if text is None or not text or text.lower() == "none":
        return None
    return _number(text, line, what, kind)


def _check_header(section: str, header: list[str], line: int, vote_type: str) -> dict[str, int]:
    if len(set(header)) != len(header):
        raise PabulibError(line, f"{section.upper()} header repeats a column name")
    required = {
        "meta": ("key", "value"),
        "projects": ("project_id", "cost"),
        "votes": ("voter_id", "vote"),
    }[section]
    for name in required:
        if name not in header:
            raise PabulibError(line, f"{section.upper()} header has no {name} column")
    if section == "meta" and len(header) != 2:
        raise PabulibError(line, "META header must be key;value")
    if section == "votes" and vote_type in POINTS_VOTE_TYPES and "points" not in header:
        raise PabulibError(line, f"VOTES header has no points column ({vote_type} ballots)")
    return {name: header.index(name) for name in header}


def write_pabulib(election: Election, selected: list[str] | None = None) -> str:
    """The election as ``.pb`` text (LF line endings, UTF-8 without a byte order mark).

    With ``selected``, the PROJECTS section gets a ``selected`` column: 1 for those
    projects, 0 for the others (replacing any column already there). A ``votes`` column is
    written for the ballots written (see below). A line break inside a value (a title
    typed with one) is written as a space: a row is one line, here and in pabutools,
    which splits the text into lines before reading it.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)

    def write(row: list[str]) -> None:
        writer.writerow([LINE_BREAKS_IN_VALUE.sub(" ", value) for value in row])

    meta = dict(election.meta)
    meta["num_projects"] = str(len(election.projects))
    meta["num_votes"] = str(len(election.ballots))
    write(["META"])
    write(["key", "value"])
    for key, value in meta.items():
        write([key, value])

    project_columns: list[str] = []
    for project in election.projects.values():
        for name in project.fields:
            if name not in project_columns:
                project_columns.append(name)
    chosen = set(selected) if selected is not None else None
    if chosen is not None and "selected" not in project_columns:
        project_columns.append("selected")
    write(["PROJECTS"])
    write(["project_id", "cost", *project_columns])
    # An existing votes column is written as the number of ballots written here that name
    # the project: a file read with a project named twice on a ballot may have counted
    # every mention, and the ballots are written with each project once.
    supporters = Counter(pid for ballot in election.ballots for pid in set(ballot.vote))
    for project in election.projects.values():
        values = dict(project.fields)
        votes, named_by = values.get("votes", ""), str(supporters[project.project_id])
        if votes.isascii() and votes.isdigit() and (votes.lstrip("0") or "0") != named_by:
            values["votes"] = named_by
        if chosen is not None:
            values["selected"] = "1" if project.project_id in chosen else "0"
        write([project.project_id, format_number(project.cost), *(values.get(c, "") for c in project_columns)])

    with_points = election.vote_type in POINTS_VOTE_TYPES
    vote_columns: list[str] = []
    for ballot in election.ballots:
        for name in ballot.fields:
            if name not in vote_columns:
                vote_columns.append(name)
    write(["VOTES"])
    write(["voter_id", "vote", *(["points"] if with_points else []), *vote_columns])
    for ballot in election.ballots:
        row = [ballot.voter_id, ",".join(ballot.vote)]
        if with_points:
            row.append(",".join(format_number(p) for p in (ballot.points or ())))
        row.extend(ballot.fields.get(c, "") for c in vote_columns)
        write(row)
    return out.getvalue()
