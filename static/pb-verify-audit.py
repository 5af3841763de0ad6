#!/usr/bin/env python3
"""Check a pb round's audit log without trusting the server that published it.

    python3 pb-verify-audit.py round-7-audit.jsonl [--since SEQ:HASH ...] [--ballots CONTEST=FILE ...]
                               [--receipts CONTEST=FILE ...]

EXPORT is the log as downloaded from the round's page (/rounds/N/audit.jsonl), or its URL.
It checks that every event's hash is the SHA-256 of the one before it, its number and its
document (docs/audit-format.md says exactly what), that the events follow one another
from the first, that every value revealed since (such as the results, at publication)
is the one the log committed to when it was recorded, and that the log still holds every
head the export lists as sent to witnesses.

--since SEQ:HASH  a head of the log you were given earlier (the round's witnesses receive
                  one by email at every change of phase): the log must still hold that
                  event with that hash, which it cannot if anything before it was rewritten,
                  removed or reordered. Give it as often as you have heads.
--ballots C=FILE  a published ballot file of contest C (ballots.pb): its SHA-256 must be
                  the one the count recorded in the log, and its budget, rule, kind of
                  ballot and projects (id, cost, name, in order) those the log recorded
                  when voting opened (ballot.terms_frozen; rounds opened before December
                  2026 have none).
--receipts C=FILE the published receipt codes of contest C's counted ballots (receipts.txt):
                  its SHA-256 must be the one the count recorded in the log. Look for your
                  own receipt in it: a ballot left out, or one slipped in, changes it.

It prints what it checked and exits 0 if everything holds, 1 (saying why) if not.
This file uses Python's standard library only, and nothing of pb.
"""

import argparse
import csv
import hashlib
import json
import sys
import urllib.request
from fractions import Fraction

GENESIS = "0" * 64


class Broken(Exception):
    """The log does not hold; the message says where and why."""


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, seq: int, document: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{seq}\n{document}".encode()).hexdigest()


def commitment(salt: str, value) -> str:
    return hashlib.sha256(f"{salt}\n{canonical(value)}".encode()).hexdigest()


def read_lines(source: str) -> list[str]:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=60) as response:  # a URL is the user's own choice
            text = response.read().decode("utf-8")
    else:
        with open(source, encoding="utf-8", newline="") as file:
            text = file.read()
    # Lines end at "\n" only: a title may hold U+2028 and its kind, which JSON allows unescaped.
    return [line for line in text.split("\n") if line.strip()]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(text: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        raise Broken(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Broken(f"{what} is not a JSON object")
    return value


def verify(
    lines: list[str], since=(), ballots: dict[int, bytes] | None = None, receipts: dict[int, bytes] | None = None
) -> dict:
    """Check an export; returns what was found (raises Broken if the log does not hold)."""
    if not lines:
        raise Broken("the file is empty")
    header = _object(lines[0], "line 1")
    if header.get("pb_audit_export") != 1 or not isinstance(header.get("chain"), str):
        raise Broken(
            "line 1 does not say pb_audit_export 1 and a chain: this is not a pb audit export this verifier knows"
        )
    chain = header["chain"]
    # The heads the export itself lists as sent to witnesses are checked too (yours count more:
    # whoever controls the server writes this list).
    listed = [(w.get("seq"), w.get("hash")) for w in header.get("witnessed") or [] if isinstance(w, dict)]
    heads = list(since) + [(seq, hash_) for seq, hash_ in listed if _is_int(seq) and isinstance(hash_, str)]
    prev_hash, expected, hashes, revealed = GENESIS, 1, {}, 0
    withheld = []  # seqs of older events whose content the export keeps back
    format_two = False
    terms: dict = {}  # each ballot paper's terms, as recorded when voting opened
    counts = []  # (seq, revealed results) of every round.counted event
    for number, line in enumerate(lines[1:], start=2):
        entry = _object(line, f"line {number}")
        seq, entry_prev, entry_own = entry.get("seq"), entry.get("prev_hash"), entry.get("entry_hash")
        if not _is_int(seq) or not isinstance(entry_prev, str) or not isinstance(entry_own, str):
            raise Broken(f"line {number} is not an event of the export")
        if seq != expected:
            raise Broken(f"event {expected} is missing (line {number} holds event {seq})")
        if entry_prev != prev_hash:
            raise Broken(f"event {seq} does not follow the event before it")
        if "withheld" in entry:
            if entry["withheld"] is not True or "document" in entry:
                raise Broken(f"event {seq} is neither withheld nor shown")
            if format_two:
                raise Broken(f"event {seq} is withheld, but only events recorded before pb's format 2 may be")
            withheld.append(seq)  # its hash cannot be checked here, only taken as given
        else:
            document = entry.get("document")
            if not isinstance(document, str) or entry_hash(prev_hash, seq, document) != entry_own:
                raise Broken(f"event {seq} was changed after it was recorded (its hash does not match its content)")
            content = _object(document, f"event {seq}'s document")
            if content.get("seq") != seq or not _is_int(content.get("seq")) or content.get("chain") != chain:
                raise Broken(f"event {seq}'s document names another place in the log")
            format_two = format_two or content.get("v") == 2
            sealed = content.get("sealed") or {}
            shown = entry.get("revealed") or {}
            if not isinstance(sealed, dict) or not isinstance(shown, dict):
                raise Broken(f"event {seq}'s sealed or revealed values are not objects")
            for key, value in shown.items():
                if (
                    not isinstance(value, dict)
                    or key not in sealed
                    or commitment(str(value.get("salt", "")), value.get("value")) != sealed[key]
                ):
                    raise Broken(f"event {seq}: the revealed {key!r} is not what the log committed to")
                revealed += 1
            if content.get("action") == "ballot.terms_frozen" and isinstance(content.get("data"), dict):
                if terms:
                    raise Broken(f"event {seq} records the ballot papers' terms again; they are recorded once")
                terms = {c.get("contest"): c for c in content["data"].get("contests") or [] if isinstance(c, dict)}
            if content.get("action") == "round.counted":
                counts.append(
                    (seq, shown.get("contests", {}).get("value") if isinstance(shown.get("contests"), dict) else None)
                )
        hashes[seq] = entry_own
        prev_hash, expected = entry_own, expected + 1
    head = header.get("head") or {}
    if (
        not isinstance(head, dict)
        or head.get("seq") != expected - 1
        or not _is_int(head.get("seq"))
        or (expected > 1 and head.get("hash") != prev_hash)
    ):
        raise Broken(
            f"the log should end at event {head.get('seq') if isinstance(head, dict) else '?'} but ends at event {expected - 1}"
        )
    for seq, hash_ in heads:
        if seq not in hashes:
            raise Broken(f"the log no longer reaches event {seq}, which was witnessed (it has {expected - 1})")
        if hashes[seq] != hash_:
            raise Broken(f"event {seq} is not the one witnessed: the log before it was rewritten")
        hidden = [w for w in withheld if w <= seq]
        if hidden:
            raise Broken(
                f"event {seq} cannot be confirmed from this export: event {hidden[-1]} before it is withheld "
                "(recorded before pb's format 2); pb audit verify --since, on the server, can"
            )
    if len(counts) > 1:
        raise Broken(f"the log holds {len(counts)} counts of the votes; there is only ever one")
    counted = counts[0][1] if counts else None
    for what, key, given in (("ballot file", "sha256", ballots), ("receipts list", "receipts_sha256", receipts)):
        for contest, content in (given or {}).items():
            if not isinstance(counted, list):
                raise Broken(f"the log reveals no count to compare {what}s with (are the results published?)")
            recorded = {c.get("contest"): c.get(key) for c in counted if isinstance(c, dict)}
            if contest not in recorded:
                raise Broken(f"the count recorded no ballot paper {contest}")
            if recorded[contest] is None:
                raise Broken(
                    f"the count recorded no {what} for ballot paper {contest} (counts before December 2026 did not)"
                )
            if hashlib.sha256(content).hexdigest() != recorded[contest]:
                raise Broken(f"the {what} given for ballot paper {contest} is not the one the count recorded")
    for contest, content in (ballots or {}).items():
        if contest in terms:
            _check_terms(contest, content, terms[contest])
    return {
        "chain": chain,
        "events": expected - 1,
        "head": prev_hash,
        "withheld": len(withheld),
        "revealed": revealed,
        "since": len(heads),
        "listed": len(listed),
        "ballots": len(ballots or {}),
        "receipts": len(receipts or {}),
        "terms": sorted(terms),
    }


def _number(text) -> Fraction:
    """A Pabulib number ("1250.5" or "1250,5") exactly."""
    return Fraction(str(text).replace(",", "."))


def _pabulib(content: bytes) -> tuple[dict, list[dict]]:
    """A ballot file's META (key: value) and PROJECTS (rows by column name), in file order."""
    meta, projects, section, columns = {}, [], None, None
    for row in csv.reader(content.decode("utf-8-sig").splitlines(), delimiter=";"):
        if len(row) == 1 and row[0].strip() in ("META", "PROJECTS", "VOTES"):
            section, columns = row[0].strip(), None
        elif section in ("META", "PROJECTS") and columns is None:
            columns = [c.strip() for c in row]
        elif section == "META" and len(row) >= 2:
            meta[row[0].strip()] = row[1].strip()
        elif section == "PROJECTS" and columns:
            projects.append(dict(zip(columns, (value.strip() for value in row), strict=False)))
    return meta, projects


def _check_terms(contest: int, content: bytes, recorded: dict) -> None:
    """The ballot file says the terms the log recorded when voting opened."""
    try:
        meta, projects = _pabulib(content)
        written = {**meta, "vote_type": meta.get("vote_type", "approval")}
        changed = [
            key
            for key, value in (recorded.get("meta") or {}).items()
            if (_number(written.get(key, "")) != _number(value) if key == "budget" else written.get(key) != value)
        ]
        counted = [
            (p.get("project_id"), _number(p.get("cost")), p.get("name", ""), p.get("category", "")) for p in projects
        ]
        frozen = [
            (p.get("project_id"), _number(p.get("cost")), p.get("name", ""), p.get("category", ""))
            for p in recorded.get("projects") or []
        ]
    except (ValueError, ZeroDivisionError, TypeError) as problem:
        raise Broken(f"the ballot file given for ballot paper {contest} cannot be read: {problem}") from None
    if counted != frozen:
        changed.append("projects")
    if changed:
        raise Broken(
            f"the ballot file given for ballot paper {contest} says other {', '.join(changed)} "
            "than the log recorded when voting opened"
        )


def _head(text: str) -> tuple[int, str]:
    seq, _, hash_ = text.partition(":")
    if not seq.isdigit() or len(hash_) != 64:
        raise argparse.ArgumentTypeError("give a head as SEQ:HASH, e.g. 42:3f9a... (64 hex digits)")
    return int(seq), hash_.lower()


def _contest_file(what: str, example: str):
    def parse(text: str) -> tuple[int, str]:
        contest, _, path = text.partition("=")
        if not contest.isdigit() or not path:
            raise argparse.ArgumentTypeError(f"give a {what} as CONTEST=FILE, e.g. 12={example}")
        return int(contest), path

    return parse


def _read(given: list[tuple[int, str]]) -> dict[int, bytes]:
    files = {}
    for contest, path in given:
        with open(path, "rb") as file:
            files[contest] = file.read()
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Check a pb round's audit log (a JSON lines export).")
    parser.add_argument("export", help="the downloaded export (round-N-audit.jsonl), or its URL")
    parser.add_argument("--since", type=_head, action="append", default=[], metavar="SEQ:HASH")
    ballot = _contest_file("ballot file", "ballots.pb")
    parser.add_argument("--ballots", type=ballot, action="append", default=[], metavar="CONTEST=FILE")
    receipt = _contest_file("receipts list", "receipts.txt")
    parser.add_argument("--receipts", type=receipt, action="append", default=[], metavar="CONTEST=FILE")
    args = parser.parse_args(argv)
    try:
        ballots, receipts = _read(args.ballots), _read(args.receipts)
        found = verify(read_lines(args.export), args.since, ballots, receipts)
    except Broken as problem:
        print(f"NOT OK: {problem}")
        return 1
    except (OSError, UnicodeDecodeError) as problem:
        print(f"cannot read it: {problem}")
        return 2
    print(f"ok: {found['chain']}, {found['events']} events, head {found['head']}")
    if found["withheld"]:
        print(f"  {found['withheld']} older events hold something not public: their hashes were taken as given")
    if found["revealed"]:
        print(f"  {found['revealed']} values revealed since they were recorded match what the log committed to")
    for seq, hash_ in args.since:
        print(f"  still holds event {seq} with the hash you were given ({hash_[:12]}...)")
    if found["listed"]:
        print(f"  still holds the {found['listed']} heads the export lists as sent to witnesses")
    for contest in sorted(ballots):
        print(f"  the ballot file of ballot paper {contest} is the one the count recorded")
        if contest in found["terms"]:
            print("  and says the budget, rule and projects recorded when voting opened")
    for contest in sorted(receipts):
        print(f"  the receipts list of ballot paper {contest} is the one the count recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
