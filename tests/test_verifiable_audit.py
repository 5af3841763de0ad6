"""Anyone can verify the log and the results without trusting the server (issue 18).

Whoever controls the database is the attacker here: with every guarding trigger dropped
and every hash recomputed with pb's own functions, a rewritten, cut, forged or reordered
chain, or edited results, must still be caught by `pb audit verify --since` and by the
standalone verifier (static/pb-verify-audit.py, run as its own program), given a head the
round's witnesses were sent earlier."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from pb.accounts.models import User
from pb.audit import guard
from pb.audit.chain import canonical_json, commitment, entry_hash, event_document
from pb.audit.models import AuditChainHead, AuditEvent, WitnessedHead, chain_key
from pb.cli import main
from pb.results.models import ContestResult
from tests.conftest import FormClient
from tests.factories import OFFICER, close_voting, make_codes, make_round, open_voting, user

VERIFIER = Path(__file__).resolve().parent.parent / "static" / "pb-verify-audit.py"
LEAD, PARTNER, MEMBER, GROUP = "lead@council.example", "lead@trust.example", "chair@park.example", "Friends of the Park"


@pytest.fixture
def round_ids(app, db, make_user):
    """A round with a partner anchor, a returning officer and a group's proposals, voted in
    with letter codes, counted and published: witnessed at every phase change."""
    from pb.lifecycle import move_to_next_phase
    from pb.rounds import services as rounds
    from pb.rounds.models import Round

    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(PARTNER, organisation="Eastshire NHS Trust", kind="anchor")
    with db() as session:
        user(session, PARTNER).locale = "cy"  # reads pb in Welsh
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    with app.test_request_context(), db() as session:
        from pb.accounts.models import Organisation

        trust = session.exec(select(Organisation).where(Organisation.name == "Eastshire NHS Trust")).one()
        rounds.invite_partner(session, session.get(Round, ids["round"]), actor=user(session, LEAD), organisation=trust)
    codes = make_codes(app, db, ids["round"], ids["areas"]["North"], count=3)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    from pb.proposals.models import Project

    with db(write=False) as session:
        north = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
    for n, code in enumerate(codes):
        resident = FormClient(app)
        start = f"/rounds/{ids['round']}/vote"
        assert resident.submit(f"{start}/code", {"code": code}, page=start).status_code == 302
        picks = [str(p) for p in north[: n + 1]]
        assert (
            resident.submit(f"{start}/{ids['contests']['North']}", {"project": picks, "confirm": "1"}).status_code
            == 302
        )
    # The last resident changes their mind: a replaced ballot, never counted.
    assert (
        resident.submit(
            f"{start}/{ids['contests']['North']}", {"project": [str(north[-1])], "confirm": "1"}
        ).status_code
        == 302
    )
    close_voting(app, db, ids["round"])
    ids["counted_export"] = FormClient(app).get(f"/rounds/{ids['round']}/audit.jsonl").get_data(as_text=True)
    with app.test_request_context(), db() as session:
        move_to_next_phase(session, session.get(Round, ids["round"]), actor=user(session, LEAD))
    ids["north"] = north
    return ids


def heads(db, round_id) -> list[WitnessedHead]:
    with db(write=False) as session:
        return list(
            session.exec(
                select(WitnessedHead).where(WitnessedHead.chain == chain_key(round_id)).order_by(WitnessedHead.id)
            )
        )


def export(app, round_id) -> str:
    response = FormClient(app).get(f"/rounds/{round_id}/audit.jsonl")
    assert response.status_code == 200
    assert response.mimetype == "application/jsonl"
    return response.get_data(as_text=True)


def standalone(tmp_path, exported: str, *args) -> subprocess.CompletedProcess:
    """The verifier as anyone runs it: its own Python process, given the downloaded file."""
    path = tmp_path / "export.jsonl"
    path.write_text(exported, encoding="utf-8")
    return subprocess.run([sys.executable, str(VERIFIER), str(path), *args], capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------- witnesses, export, verifier


def test_witnesses_receive_every_head_and_the_round_page_lists_them(app, db, round_ids):
    from pb.mail import OutgoingMail

    witnessed = heads(db, round_ids["round"])
    assert [w.reason for w in witnessed] == ["proposals_open", "screening", "voting", "counted", "results_published"]
    with db(write=False) as session:
        mails = session.exec(select(OutgoingMail)).all()
        if not mails:  # delivered already (no SMTP server in tests): the outbox of this process
            with app.app_context():
                from pb.mail import outbox

                mails = [type("Sent", (), {"recipient": m.to, "subject": m.subject, "body": m.body}) for m in outbox()]
    for head in witnessed:
        sent_to = {m.recipient for m in mails if f"{head.seq}:{head.hash}" in m.body}
        # From the opening of voting, everyone who watches the round (before, only who was there yet).
        everyone = {LEAD, PARTNER, MEMBER, OFFICER} if head.reason != "proposals_open" else {LEAD}
        assert sent_to == everyone, (head.reason, sent_to)
    # Each in their own language, even when a timer moved the round on.
    partner = [m for m in mails if m.recipient == PARTNER]
    assert partner
    assert not any(m.subject.startswith("Keep this") for m in partner)
    assert all(m.subject.startswith("Keep this") for m in mails if m.recipient == LEAD)
    page = FormClient(app).get(f"/rounds/{round_ids['round']}").get_data(as_text=True)
    for head in witnessed:
        assert head.hash in page
    assert "pb-verify-audit.py" in page
    assert f"/rounds/{round_ids['round']}/audit.jsonl" in page


def test_the_standalone_verifier_checks_the_export_and_imports_nothing_of_pb(app, db, round_ids, tmp_path):
    tree = ast.parse(VERIFIER.read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported, imported
    assert imported <= set(sys.stdlib_module_names), imported
    last = heads(db, round_ids["round"])[-1]
    with db(write=False) as session:
        ballot_file = session.exec(
            select(ContestResult).where(ContestResult.contest_id == round_ids["contests"]["North"])
        ).one()
    ballots = tmp_path / "north.pb"
    ballots.write_bytes(
        FormClient(app).get(f"/rounds/{round_ids['round']}/results/{round_ids['contests']['North']}/ballots.pb").data
    )
    checked = standalone(
        tmp_path,
        export(app, round_ids["round"]),
        "--since",
        f"{last.seq}:{last.hash}",
        "--ballots",
        f"{ballot_file.contest_id}={ballots}",
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"still holds event {last.seq}" in checked.stdout
    assert "values revealed since" in checked.stdout
    assert f"ballot file of ballot paper {ballot_file.contest_id} is the one the count recorded" in checked.stdout
    ballots.write_bytes(ballots.read_bytes().replace(b"\n", b"\n\n", 1))  # a published file that is not the counted one
    altered = standalone(tmp_path, export(app, round_ids["round"]), "--ballots", f"{ballot_file.contest_id}={ballots}")
    assert altered.returncode == 1
    assert "not the one the count recorded" in altered.stdout
    assert (
        app.test_cli_runner()
        .invoke(main, ["audit", "verify", str(round_ids["round"]), "--since", f"{last.seq}:{last.hash}"])
        .exit_code
        == 0
    )


def test_the_export_names_people_by_a_stable_pseudonym_never_their_account(app, db, round_ids):
    from pb.audit.chain import pseudonym

    chain = chain_key(round_ids["round"])
    with db(write=False) as session:
        refs = {pseudonym(u.audit_ref, chain): u.id for u in session.exec(select(User))}
        officer, lead = user(session, OFFICER), user(session, LEAD)
    documents = [json.loads(json.loads(line)["document"]) for line in export(app, round_ids["round"]).splitlines()[1:]]
    actors = {d["actor"] for d in documents} - {None}
    assert actors
    assert actors <= set(refs)
    assert all(re.fullmatch(r"[0-9a-f]{16}", a) for a in actors)
    [appointed] = [d for d in documents if d["action"] == "returning_officer.appointed"]
    assert (
        refs[appointed["data"]["user"]] == officer.id
    )  # the same person, the same pseudonym, in every event of the round
    assert not any(isinstance(d["data"].get("user"), int) for d in documents)
    # ...and another in another round: nobody can follow a person from round to round.
    from tests.factories import make_round as another

    other = another(app, db, convener=LEAD, anchor="Eastshire Council")
    others = [json.loads(json.loads(line)["document"]) for line in export(app, other["round"]).splitlines()[1:]]
    lead_here = {d["actor"] for d in documents if refs.get(d["actor"]) == lead.id}
    assert lead_here
    assert not lead_here & {d["actor"] for d in others}


def test_nothing_before_its_time_and_private_notes_stay_private(app, db, round_ids, make_user):
    """Counted but not yet published, the export held no funded set, no figures; a note
    returned to a group is never in the public log, page, CSV or export."""
    counted = round_ids["counted_export"]
    lines = [json.loads(line) for line in counted.splitlines()]
    [count_line] = [line for line in lines[1:] if '"action":"round.counted"' in (line.get("document") or "")]
    document = json.loads(count_line["document"])
    assert document["data"] == {}
    assert set(document["sealed"]) == {"contests", "codes", "turnout_sha256"}
    assert "revealed" not in count_line
    assert '"selected"' not in counted
    assert not any("revealed" in line for line in lines)
    # Published: the same event now reveals them, as committed.
    published = [json.loads(line) for line in export(app, round_ids["round"]).splitlines()]
    [count_line] = [line for line in published[1:] if '"action":"round.counted"' in (line.get("document") or "")]
    revealed = count_line["revealed"]["contests"]
    assert commitment(revealed["salt"], revealed["value"]) == json.loads(count_line["document"])["sealed"]["contests"]

    # A note returned to a group: the log says it was returned, never what it said.
    from pb.proposals import services as proposals
    from pb.proposals.models import Proposal
    from tests.factories import make_round as another_round

    ids = another_round(app, db, convener=LEAD, anchor="Eastshire Council")
    from tests.factories import eligible_proposals

    [proposal_id, *_rest] = eligible_proposals(
        app, db, ids["round"], screener=LEAD, member=MEMBER, group=GROUP, per_contest=1
    )
    note = "Please ask the landowner first; your costs are too high for the benches"
    with app.test_request_context(), db() as session:
        proposals.screen_proposal(
            session, session.get(Proposal, proposal_id), actor=user(session, LEAD), decision="returned", reason=note
        )
    for url in (
        f"/rounds/{ids['round']}/audit.jsonl",
        f"/rounds/{ids['round']}/audit",
        f"/rounds/{ids['round']}/audit.csv",
    ):
        body = FormClient(app).get(url).get_data(as_text=True)
        assert "landowner" not in body, url
    assert "kept private" in FormClient(app).get(f"/rounds/{ids['round']}/audit").get_data(as_text=True)
    group = FormClient(app)
    group.sign_in(MEMBER, "correct horse battery")
    assert "landowner" in group.get(f"/proposals/{proposal_id}").get_data(as_text=True)  # the group reads its note


def test_the_standalone_verifier_passes_on_the_demos_exports(app, tmp_path):
    from pb.db import session_scope
    from pb.rounds.models import Round

    assert app.test_cli_runner().invoke(main, ["demo"]).exit_code == 0
    with app.app_context(), session_scope(write=False) as session:
        rounds = [(r.id, r.phase) for r in session.exec(select(Round))]
    assert len(rounds) >= 4
    for round_id, phase in rounds:
        if phase == "draft":
            continue
        checked = standalone(tmp_path, export(app, round_id))
        assert checked.returncode == 0, (round_id, checked.stdout)


# ---------------------------------------------------------------- the database keeps order


def test_the_database_refuses_events_out_of_order_and_changes_to_ballots_and_results(app, db, round_ids):
    from sqlalchemy.exc import DBAPIError

    with db(write=False) as session:
        head = session.get(AuditChainHead, chain_key(round_ids["round"]))
        head_seq, head_hash = head.seq, head.head_hash
    attempts = [
        (
            "INSERT INTO audit_event (chain, seq, round_id, action, data, created_at, prev_hash, entry_hash, format) "
            "VALUES (:c, :s, :r, 'round.recounted', '{}', CURRENT_TIMESTAMP, :p, :e, 2)",
            {
                "c": chain_key(round_ids["round"]),
                "s": head_seq + 2,
                "r": round_ids["round"],
                "p": head_hash,
                "e": "f" * 64,
            },
        ),
        (
            "INSERT INTO audit_event (chain, seq, round_id, action, data, created_at, prev_hash, entry_hash, format) "
            "VALUES (:c, :s, :r, 'round.recounted', '{}', CURRENT_TIMESTAMP, :p, :e, 2)",
            {
                "c": chain_key(round_ids["round"]),
                "s": head_seq + 1,
                "r": round_ids["round"],
                "p": "0" * 64,
                "e": "f" * 64,
            },
        ),
        ("UPDATE audit_chain_head SET seq = seq - 1 WHERE chain = :c", {"c": chain_key(round_ids["round"])}),
        ("DELETE FROM ballot", {}),
        ("UPDATE ballot SET is_current = NOT is_current", {}),
        ("UPDATE ballot_choice SET project_id = project_id", {}),
        ("UPDATE contest_result SET outcome = '{}'", {}),
        ("DELETE FROM round_turnout", {}),
        ("DELETE FROM witnessed_head", {}),
        ("UPDATE ballot SET counted = NOT counted WHERE NOT is_current", {}),  # a replaced ballot counted too
        ("UPDATE ballot SET counted = NOT counted WHERE is_current", {}),
        (
            "INSERT INTO ballot_choice (ballot_id, project_id, rank) SELECT b.id, p.id, NULL FROM ballot b, project p "
            "WHERE NOT EXISTS (SELECT 1 FROM ballot_choice c WHERE c.ballot_id = b.id AND c.project_id = p.id) LIMIT 1",
            {},
        ),
        (
            "INSERT INTO ballot (contest_id, voter_id, is_current, channel, receipt, cast_at, counted) "
            "SELECT contest_id, voter_id, false, channel, 'XXXXX-XXXXX', cast_at, true FROM ballot LIMIT 1",
            {},
        ),
    ]
    with db(write=False) as session:
        dialect = session.get_bind().dialect.name
    if dialect == "sqlite":  # INSERT OR REPLACE deletes the row it clashes with, without DELETE triggers
        attempts += [
            (
                "INSERT OR REPLACE INTO ballot_choice (ballot_id, project_id, rank) SELECT ballot_id, project_id, 5 FROM ballot_choice LIMIT 1",
                {},
            ),
            (
                "INSERT OR REPLACE INTO ballot (id, contest_id, voter_id, is_current, channel, receipt, cast_at, counted) "
                "SELECT id, contest_id, voter_id, 0, channel, receipt, cast_at, 0 FROM ballot LIMIT 1",
                {},
            ),
            (
                "INSERT OR REPLACE INTO round_turnout (id, round_id, figures, codes) SELECT id, round_id, '[]', '[]' FROM round_turnout",
                {},
            ),
            (
                "INSERT OR REPLACE INTO audit_event (id, chain, seq, round_id, action, data, created_at, prev_hash, entry_hash, format) "
                "SELECT id, chain, seq, round_id, action, '{}', created_at, prev_hash, entry_hash, format FROM audit_event LIMIT 1",
                {},
            ),
        ]
    else:
        attempts += [
            (f"TRUNCATE {table} CASCADE", {})
            for table in (
                "contest_result",
                "round_turnout",
                "audit_chain_head",
                "witnessed_head",
                "ballot",
                "ballot_choice",
            )
        ]
    for sql, params in attempts:
        with pytest.raises(DBAPIError, match=r"cannot|must|only"), db() as session:  # the trigger's own words
            session.exec(text(sql), params=params)
            pytest.fail(f"the database let this through: {sql}")
    if dialect == "sqlite":  # a head cannot be put back: the REPLACE is ignored
        with db() as session:
            session.exec(
                text("INSERT OR REPLACE INTO audit_chain_head (chain, seq, head_hash) VALUES (:c, 1, 'abc')"),
                params={"c": chain_key(round_ids["round"])},
            )
        with db(write=False) as session:
            assert session.get(AuditChainHead, chain_key(round_ids["round"])).seq == head_seq
    assert app.test_cli_runner().invoke(main, ["audit", "verify", str(round_ids["round"])]).exit_code == 0


# ---------------------------------------------------------------- the operator rewrites history


def _without_guards(db, work) -> None:
    with db() as session:
        dialect = session.get_bind().dialect.name
        for statement in guard.drop_statements(dialect) + guard.integrity_drop_statements(dialect):
            session.exec(text(statement))
        work(session)
        for statement in guard.create_statements(dialect) + guard.integrity_create_statements(dialect):
            session.exec(text(statement))


def _rechain(session, chain: str, events: list[AuditEvent]) -> None:
    """Give `events` (in their new order) seq 1.. and fresh hashes, with pb's own functions,
    so that the chain verifies again from its first event, and move the head."""
    refs = {u.id: u.audit_ref for u in session.exec(select(User))}
    session.exec(text("DELETE FROM audit_event WHERE chain = :c"), params={"c": chain})
    prev = "0" * 64
    for seq, event in enumerate(events, start=1):
        event.seq, event.prev_hash = seq, prev
        event.entry_hash = entry_hash(prev, seq, event_document(event, refs.get(event.actor_user_id)))
        session.exec(
            text(
                "INSERT INTO audit_event (id, chain, seq, round_id, actor_user_id, organisation_id, action, data, sealed, format, "
                "created_at, prev_hash, entry_hash) VALUES (:id, :chain, :seq, :round_id, :actor, :org, :action, :data, :sealed, "
                ":format, :created_at, :prev, :entry)"
            ),
            params={
                "id": event.id,
                "chain": chain,
                "seq": seq,
                "round_id": event.round_id,
                "actor": event.actor_user_id,
                "org": event.organisation_id,
                "action": event.action,
                "data": event.data,
                "sealed": event.sealed,
                "format": event.format,
                "created_at": event.created_at,
                "prev": prev,
                "entry": event.entry_hash,
            },
        )
        prev = event.entry_hash
    session.exec(
        text("UPDATE audit_chain_head SET seq = :s, head_hash = :h WHERE chain = :c"),
        params={"s": len(events), "h": prev, "c": chain},
    )
    # ...and, thorough, the list of heads sent to witnesses (which the page and export show).
    session.exec(text("DELETE FROM witnessed_head WHERE chain = :c"), params={"c": chain})


def _events(session, chain):
    rows = list(session.exec(select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)))
    for row in rows:
        session.expunge(row)
    return rows


def rewrite(session, round_ids):
    chain = chain_key(round_ids["round"])
    events = _events(session, chain)
    moved = next(e for e in events if e.action == "round.phase_changed" and '"by":"hand"' in e.data)
    moved.data = moved.data.replace('"by":"hand"', '"by":"timeline"')  # "closed by hand" becomes "by the timeline"
    _rechain(session, chain, events)


def truncate(session, round_ids):
    chain = chain_key(round_ids["round"])
    _rechain(session, chain, _events(session, chain)[:-3])


def forge(session, round_ids):
    chain = chain_key(round_ids["round"])
    events = _events(session, chain)
    counted = next(n for n, e in enumerate(events) if e.action == "round.counted")
    forged = AuditEvent(
        id=max(e.id for e in events) + 1000,
        chain=chain,
        seq=0,
        round_id=round_ids["round"],
        actor_user_id=None,
        organisation_id=events[counted].organisation_id,
        action="round.recounted",
        data=canonical_json({"identical": [True, True]}),
        format=2,
        created_at=events[counted].created_at,
        prev_hash="",
        entry_hash="",
    )
    _rechain(session, chain, [*events[: counted + 1], forged, *events[counted + 1 :]])


def reorder(session, round_ids):
    chain = chain_key(round_ids["round"])
    events = _events(session, chain)
    events[2], events[3] = events[3], events[2]
    _rechain(session, chain, events)


def edit_results(session, round_ids):
    """Fund another project: the stored result, and the count's event to match, hashes and all."""
    chain = chain_key(round_ids["round"])
    result = session.exec(select(ContestResult).where(ContestResult.contest_id == round_ids["contests"]["North"])).one()
    outcome = json.loads(result.outcome)
    outcome["selected"] = [str(round_ids["north"][-1])]
    session.exec(
        text("UPDATE contest_result SET outcome = :o WHERE id = :i"), params={"o": json.dumps(outcome), "i": result.id}
    )
    events = _events(session, chain)
    counted = next(e for e in events if e.action == "round.counted")
    sealed = json.loads(counted.sealed)
    for contest in sealed["contests"]["value"]:
        if contest["contest"] == round_ids["contests"]["North"]:
            contest["selected"] = outcome["selected"]
    counted.sealed = canonical_json(sealed)
    _rechain(session, chain, events)


@pytest.mark.parametrize("attack", [rewrite, truncate, forge, reorder, edit_results], ids=lambda a: a.__name__)
def test_a_rewritten_history_is_caught_by_anyone_who_kept_an_earlier_head(app, db, round_ids, tmp_path, attack):
    published = heads(db, round_ids["round"])[-1]  # the head the witnesses were sent at publication
    _without_guards(db, lambda session: attack(session, round_ids))
    runner = app.test_cli_runner()
    exported = export(app, round_ids["round"])
    if attack is not edit_results:
        # The operator made the chain whole again: on its own, it verifies.
        assert runner.invoke(main, ["audit", "verify", str(round_ids["round"])]).exit_code == 0
        assert standalone(tmp_path, exported).returncode == 0
    else:  # the stored ballot file, recounted, funds what it always did
        alone = runner.invoke(main, ["audit", "verify", str(round_ids["round"])])
        assert alone.exit_code == 1, alone.output
        assert "RESULTS DO NOT AGREE" in alone.output, alone.output
    since = f"{published.seq}:{published.hash}"
    checked = runner.invoke(main, ["audit", "verify", str(round_ids["round"]), "--since", since])
    assert checked.exit_code == 1, checked.output
    assert "is not the one witnessed" in checked.output, checked.output
    caught = standalone(tmp_path, exported, "--since", since)
    assert caught.returncode == 1, caught.stdout
    assert "NOT OK" in caught.stdout, caught.stdout


# ---------------------------------------------------------------- the receipts list changed after the count


def delete_a_counted_ballot(session, round_ids):
    """With the guards dropped: its voter's receipt becomes 'no ballot with that receipt'."""
    ballot_id = session.exec(
        text("SELECT id FROM ballot WHERE contest_id = :c AND counted ORDER BY id LIMIT 1"),
        params={"c": round_ids["contests"]["North"]},
    ).one()[0]
    session.exec(text("DELETE FROM ballot_choice WHERE ballot_id = :b"), params={"b": ballot_id})
    session.exec(text("DELETE FROM ballot WHERE id = :b"), params={"b": ballot_id})


def forge_a_counted_receipt(session, round_ids):
    """With every guard in place: the ballot triggers trust the round's phase, which is not guarded."""
    rid = round_ids["round"]
    phase = session.exec(text("SELECT phase FROM round WHERE id = :i"), params={"i": rid}).one()[0]
    session.exec(
        text(
            "INSERT INTO voter (round_id, area_id, method, identity, created_at) "
            "VALUES (:r, :a, 'declared', :ident, CURRENT_DATE)"
        ),
        params={"r": rid, "a": round_ids["areas"]["North"], "ident": "f" * 64},
    )
    voter = session.exec(text("SELECT id FROM voter WHERE identity = :i"), params={"i": "f" * 64}).one()[0]
    session.exec(text("UPDATE round SET phase = 'voting' WHERE id = :i"), params={"i": rid})
    session.exec(
        text(
            "INSERT INTO ballot (contest_id, voter_id, channel, receipt, cast_at, is_current, counted) "
            "VALUES (:c, :v, 'online', 'AAAAA-AAAAA', CURRENT_TIMESTAMP, :t, :f)"
        ),
        params={"c": round_ids["contests"]["North"], "v": voter, "t": True, "f": False},
    )
    session.exec(text("UPDATE round SET phase = 'closed' WHERE id = :i"), params={"i": rid})
    session.exec(text("UPDATE ballot SET counted = :t WHERE receipt = 'AAAAA-AAAAA'"), params={"t": True})
    session.exec(text("UPDATE round SET phase = :p WHERE id = :i"), params={"p": phase, "i": rid})


@pytest.mark.parametrize("change", [delete_a_counted_ballot, forge_a_counted_receipt], ids=lambda c: c.__name__)
def test_a_receipts_list_changed_after_the_count_is_caught(app, db, round_ids, tmp_path, change):
    """receipts.txt is read live from the ballot table; the count's event seals its SHA-256.
    `pb audit verify` recomputes the list and compares; the standalone verifier compares a
    downloaded one (--receipts). Both pass the list as counted and catch it changed."""
    north = round_ids["contests"]["North"]
    url = f"/rounds/{round_ids['round']}/results/{north}/receipts.txt"
    receipts = tmp_path / "receipts.txt"
    receipts.write_bytes(FormClient(app).get(url).data)
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["audit", "verify", str(round_ids["round"])]).exit_code == 0
    untouched = standalone(tmp_path, export(app, round_ids["round"]), "--receipts", f"{north}={receipts}")
    assert untouched.returncode == 0, untouched.stdout + untouched.stderr
    assert f"the receipts list of ballot paper {north} is the one the count recorded" in untouched.stdout
    if change is delete_a_counted_ballot:
        _without_guards(db, lambda session: change(session, round_ids))
    else:
        with db() as session:
            change(session, round_ids)
    served = FormClient(app).get(url).data
    assert served != receipts.read_bytes()  # the public list changed
    checked = runner.invoke(main, ["audit", "verify", str(round_ids["round"])])
    assert checked.exit_code == 1, checked.output
    assert f"ballot paper {north}: the receipts list (receipts.txt) is not the one the count recorded" in checked.output
    receipts.write_bytes(served)
    caught = standalone(tmp_path, export(app, round_ids["round"]), "--receipts", f"{north}={receipts}")
    assert caught.returncode == 1, caught.stdout
    assert (
        f"NOT OK: the receipts list given for ballot paper {north} is not the one the count recorded" in caught.stdout
    )


def _inflate_turnout(session, round_ids):
    session.exec(
        text(
            "UPDATE round_turnout SET figures = REPLACE(figures, '\"voters\": ', '\"voters\": 10') WHERE round_id = :r"
        ),
        params={"r": round_ids["round"]},
    )


def _more_codes_used(session, round_ids):
    session.exec(
        text("UPDATE round_turnout SET codes = REPLACE(codes, '\"used\": 3', '\"used\": 30') WHERE round_id = :r"),
        params={"r": round_ids["round"]},
    )


@pytest.mark.parametrize("change", [_inflate_turnout, _more_codes_used], ids=["turnout", "codes"])
def test_turnout_changed_after_the_count_is_caught(app, db, round_ids, change):
    """The turnout by area and channel, and the voting codes' figures, are taken at the count
    and shown with the results; the count's event seals the turnout's SHA-256 and the codes'
    figures, and `pb audit verify` compares (an attacker's review multiplied the turnout by
    100 and nothing noticed)."""
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["audit", "verify", str(round_ids["round"])]).exit_code == 0
    page = FormClient(app).get(f"/rounds/{round_ids['round']}/results").get_data(as_text=True)
    _without_guards(db, lambda session: change(session, round_ids))
    assert FormClient(app).get(f"/rounds/{round_ids['round']}/results").get_data(as_text=True) != page
    checked = runner.invoke(main, ["audit", "verify", str(round_ids["round"])])
    assert checked.exit_code == 1, checked.output
    expected = {
        _inflate_turnout: "the turnout stored at the count is not the one the count recorded",
        _more_codes_used: "the voting-code figures stored at the count are not those the count recorded",
    }
    assert expected[change] in checked.output


# ---------------------------------------------------------------- a malicious export


def _verifier():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pb_verify_audit", VERIFIER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lines(exported: str) -> list[dict]:
    return [json.loads(line) for line in exported.split("\n") if line]


def _rehash(verifier, lines: list[dict], start: int) -> None:
    """Recompute every hash from line `start` on, as whoever forges an export would."""
    for n in range(max(start, 1), len(lines)):
        line = lines[n]
        line["prev_hash"] = lines[n - 1]["entry_hash"] if n > 1 else "0" * 64
        if "document" in line:
            line["entry_hash"] = verifier.entry_hash(line["prev_hash"], line["seq"], line["document"])
    lines[0]["head"] = {"seq": lines[-1]["seq"], "hash": lines[-1]["entry_hash"]}


def _check(verifier, lines, since=()):
    return verifier.verify([json.dumps(line, ensure_ascii=False) for line in lines], since)


def test_a_forged_export_cannot_pass_the_standalone_verifier(app, db, round_ids):
    verifier = _verifier()
    genuine = _lines(export(app, round_ids["round"]))
    last = heads(db, round_ids["round"])[-1]
    since = [(last.seq, last.hash)]
    assert _check(verifier, genuine, since)["events"] == len(genuine) - 1
    # A rewritten event hidden behind a "withheld" line that claims the witnessed hash.
    forged = json.loads(json.dumps(genuine))
    forged[3]["document"] = forged[3]["document"].replace('"by":"hand"', '"by":"timeline"')
    _rehash(verifier, forged, 3)
    forged[last.seq] = {
        "seq": last.seq,
        "prev_hash": forged[last.seq - 1]["entry_hash"],
        "entry_hash": last.hash,
        "withheld": True,
    }
    _rehash(verifier, forged, last.seq + 1)
    with pytest.raises(verifier.Broken, match="withheld"):
        _check(verifier, forged, since)
    # Every line withheld, as if the whole chain were older than format 2.
    hidden = [genuine[0]] + [
        {"seq": line["seq"], "prev_hash": line["prev_hash"], "entry_hash": line["entry_hash"], "withheld": True}
        for line in genuine[1:]
    ]
    with pytest.raises(verifier.Broken, match="cannot be confirmed"):
        _check(verifier, hidden, since)
    # A second count slipped in after the last head, to vouch for a doctored ballot file.
    count = next(line for line in genuine[1:] if '"action":"round.counted"' in line.get("document", ""))
    document = json.loads(count["document"])
    document["seq"] = len(genuine)
    again = [*genuine, {"seq": len(genuine), "document": verifier.canonical(document), "revealed": count["revealed"]}]
    _rehash(verifier, again, len(genuine))
    with pytest.raises(verifier.Broken, match="counts of the votes"):
        _check(verifier, again, since)
    # Odd shapes are refused, not crashed on.
    for bad in ({"seq": True}, {"document": "[]"}, {"revealed": []}, {"withheld": "yes"}):
        odd = json.loads(json.dumps(genuine))
        odd[2].update(bad)
        if "document" in bad:
            _rehash(verifier, odd, 2)
        with pytest.raises(verifier.Broken):
            _check(verifier, odd)


def test_a_line_separator_in_a_title_does_not_break_a_genuine_export(app, db, round_ids, tmp_path):
    from pb.rounds import services as rounds
    from pb.rounds.models import Round

    with app.test_request_context(), db() as session:
        round_ = session.get(Round, round_ids["round"])
        rounds.update_round(
            session,
            round_,
            actor=user(session, LEAD),
            title="Benches\u2028and bins\u0085 2027",
            purpose=round_.purpose,
            eligibility=round_.eligibility,
            minimum_age=round_.minimum_age,
            categories=rounds.names_of(session, round_, rounds.Category, "name"),
            objectives=rounds.names_of(session, round_, rounds.CharterObjective, "title"),
        )
    exported = export(app, round_ids["round"])
    assert "\u2028" in exported
    checked = standalone(tmp_path, exported)
    assert checked.returncode == 0, checked.stdout
