"""Reading and writing the Pabulib ``.pb`` format (pabulib.org/format).

A file has three sections, META, PROJECTS and VOTES, each a ``;``-separated table with
CSV quoting and a header row. Line endings may be LF or CRLF, and a UTF-8 byte order
mark is allowed. Anything malformed raises :class:`PabulibError`, whose message is one
line naming the line number and what is wrong.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .election import (
    VOTE_TYPES,
    Ballot,
    Election,
    ElectionError,
    Number,
    Project,
    exact,
    format_number,
)

SECTIONS = ("meta", "projects", "votes")
# Ballots carrying points (one value per project in ``vote``).
POINTS_VOTE_TYPES = ("cumulative", "scoring")


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
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", strict=True)
    meta: dict[str, str] = {}
    meta_lines: dict[str, int] = {}
    projects: dict[str, Project] = {}
    ballots: list[Ballot] = []
    seen_sections: list[str] = []
    section = None
    header: list[str] | None = None
    columns: dict[str, int] = {}
    vote_type = "approval"
    voter_ids: set[str] = set()

    try:
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            first = row[0].strip()
            if len(row) == 1 and first.lower() in SECTIONS:
                name = first.lower()
                if name in seen_sections:
                    raise PabulibError(line, f"section {first} appears twice")
                expected = SECTIONS[len(seen_sections)]
                if name != expected:
                    raise PabulibError(line, f"expected section {expected.upper()}, found {first}")
                seen_sections.append(name)
                section = name
                header = None
                if name == "projects":
                    vote_type = _check_meta(meta, meta_lines, line)
                continue
            if section is None:
                raise PabulibError(line, "expected section META at the start of the file")
            if header is None:
                header = [h.strip() for h in row]
                columns = _check_header(section, header, line, vote_type)
                continue
            if len(row) != len(header):
                raise PabulibError(
                    line, f"{len(row)} fields where the {section.upper()} header has {len(header)}"
                )
            if section == "meta":
                key, value = row[0].strip(), row[1].strip()
                if not key:
                    raise PabulibError(line, "empty META key")
                if key in meta:
                    raise PabulibError(line, f"META key {key!r} appears twice")
                meta[key] = value
                meta_lines[key] = line
            elif section == "projects":
                project = _read_project(row, header, columns, line)
                if project.project_id in projects:
                    raise PabulibError(line, f"project {project.project_id!r} appears twice")
                projects[project.project_id] = project
            else:
                ballot = _read_ballot(row, header, columns, line, vote_type, projects)
                if ballot.voter_id in voter_ids:
                    raise PabulibError(line, f"voter {ballot.voter_id!r} appears twice")
                voter_ids.add(ballot.voter_id)
                ballots.append(ballot)
    except csv.Error as error:
        raise PabulibError(reader.line_num, f"CSV error: {error}") from None

    end = reader.line_num
    for name in SECTIONS:
        if name not in seen_sections:
            raise PabulibError(end, f"section {name.upper()} is missing")
    if header is None:
        raise PabulibError(end, "the VOTES section has no header")
    _check_counts(meta, "num_projects", len(projects), "projects")
    _check_counts(meta, "num_votes", len(ballots), "votes")
    return Election(meta, projects, ballots)


def _check_meta(meta: dict[str, str], meta_lines: dict[str, int], end: int) -> str:
    """Check META once it is complete; errors name the offending key's line."""
    line = end
    if "budget" not in meta:
        raise PabulibError(line, "META has no budget")
    line = meta_lines["budget"]
    try:
        budget = exact(meta["budget"].replace(",", "."))
    except ElectionError:
        raise PabulibError(line, f"META budget {meta['budget']!r} is not a number") from None
    if budget < 0:
        raise PabulibError(line, "META budget is negative")
    vote_type = meta.get("vote_type")
    if vote_type is None:
        raise PabulibError(end, "META has no vote_type")
    line = meta_lines["vote_type"]
    if vote_type not in VOTE_TYPES:
        raise PabulibError(line, f"unknown vote_type {vote_type!r} (expected one of {', '.join(VOTE_TYPES)})")
    for key in ("min_length", "max_length", "num_projects", "num_votes"):
        if key in meta:
            value, line = meta[key], meta_lines[key]
            if not value.isdigit():
                raise PabulibError(line, f"META {key} {value!r} is not a whole number")
    for key in ("min_project_score_threshold", "max_sum_cost", "min_sum_cost", "min_points",
                "max_points", "min_sum_points", "max_sum_points", "default_score"):
        if key in meta:
            line = meta_lines[key]
            try:
                exact(meta[key])
            except ElectionError:
                raise PabulibError(line, f"META {key} {meta[key]!r} is not a number") from None
    return vote_type


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


def _read_project(row: list[str], header: list[str], columns: dict[str, int], line: int) -> Project:
    pid = row[columns["project_id"]].strip()
    if not pid:
        raise PabulibError(line, "empty project_id")
    raw_cost = row[columns["cost"]].strip()
    try:
        cost = exact(raw_cost.replace(",", "."))
    except ElectionError:
        raise PabulibError(line, f"cost {raw_cost!r} of project {pid!r} is not a number") from None
    if cost < 0:
        raise PabulibError(line, f"cost of project {pid!r} is negative")
    fields = {
        name: value.strip()
        for name, value in zip(header, row)
        if name not in ("project_id", "cost")
    }
    return Project(pid, cost, fields)


def _read_ballot(
    row: list[str],
    header: list[str],
    columns: dict[str, int],
    line: int,
    vote_type: str,
    projects: dict[str, Project],
) -> Ballot:
    voter_id = row[columns["voter_id"]].strip()
    if not voter_id:
        raise PabulibError(line, "empty voter_id")
    raw_vote = row[columns["vote"]].strip()
    vote = tuple(p.strip() for p in raw_vote.split(",")) if raw_vote else ()
    seen = set()
    for pid in vote:
        if pid not in projects:
            raise PabulibError(line, f"voter {voter_id!r} votes for unknown project {pid!r}")
        if pid in seen:
            raise PabulibError(line, f"voter {voter_id!r} names project {pid!r} twice")
        seen.add(pid)
    if vote_type == "choose-1" and len(vote) > 1:
        raise PabulibError(line, f"voter {voter_id!r} chooses {len(vote)} projects on a choose-1 ballot")
    points: tuple[Number, ...] | None = None
    if vote_type in POINTS_VOTE_TYPES:
        raw_points = row[columns["points"]].strip()
        parts = [p.strip() for p in raw_points.split(",")] if raw_points else []
        if len(parts) != len(vote):
            raise PabulibError(
                line, f"voter {voter_id!r} has {len(vote)} projects but {len(parts)} point values"
            )
        try:
            points = tuple(exact(p) for p in parts)
        except ElectionError:
            raise PabulibError(line, f"voter {voter_id!r} has points {raw_points!r} that are not numbers") from None
        if vote_type == "cumulative" and any(p < 0 for p in points):
            raise PabulibError(line, f"voter {voter_id!r} gives negative points")
    skip = ("voter_id", "vote", "points") if vote_type in POINTS_VOTE_TYPES else ("voter_id", "vote")
    fields = {name: value.strip() for name, value in zip(header, row) if name not in skip}
    return Ballot(voter_id, vote, points, fields)


def _check_counts(meta: dict[str, str], key: str, actual: int, what: str) -> None:
    if key in meta and int(meta[key]) != actual:
        raise PabulibError(None, f"META {key} is {meta[key]} but the file has {actual} {what}")


def write_pabulib(election: Election, selected: list[str] | None = None) -> str:
    """The election as ``.pb`` text (LF line endings, UTF-8 without a byte order mark).

    With ``selected``, the PROJECTS section gets a ``selected`` column: 1 for those
    projects, 0 for the others (replacing any column already there).
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    meta = dict(election.meta)
    meta["num_projects"] = str(len(election.projects))
    meta["num_votes"] = str(len(election.ballots))
    writer.writerow(["META"])
    writer.writerow(["key", "value"])
    for key, value in meta.items():
        writer.writerow([key, value])

    project_columns: list[str] = []
    for project in election.projects.values():
        for name in project.fields:
            if name not in project_columns:
                project_columns.append(name)
    chosen = set(selected) if selected is not None else None
    if chosen is not None and "selected" not in project_columns:
        project_columns.append("selected")
    writer.writerow(["PROJECTS"])
    writer.writerow(["project_id", "cost", *project_columns])
    for project in election.projects.values():
        values = dict(project.fields)
        if chosen is not None:
            values["selected"] = "1" if project.project_id in chosen else "0"
        writer.writerow(
            [project.project_id, format_number(project.cost), *(values.get(c, "") for c in project_columns)]
        )

    with_points = election.vote_type in POINTS_VOTE_TYPES
    vote_columns: list[str] = []
    for ballot in election.ballots:
        for name in ballot.fields:
            if name not in vote_columns:
                vote_columns.append(name)
    writer.writerow(["VOTES"])
    writer.writerow(["voter_id", "vote", *(["points"] if with_points else []), *vote_columns])
    for ballot in election.ballots:
        row = [ballot.voter_id, ",".join(ballot.vote)]
        if with_points:
            row.append(",".join(format_number(p) for p in (ballot.points or ())))
        row.extend(ballot.fields.get(c, "") for c in vote_columns)
        writer.writerow(row)
    return out.getvalue()
