"""Reading the audit log: each round's chain in public (a page and a CSV file), and the
platform chain for platform admins."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlmodel import Session, col, select

from pb.accounts.models import ANCHOR_TYPES, GROUP_TYPES, Membership, Organisation, OrganisationKind, Role, User
from pb.accounts.permissions import role_required
from pb.audit.chain import PRIVATE, canonical_json, sealed_of
from pb.audit.models import (
    GENESIS_HASH,
    PLATFORM_CHAIN,
    AuditChainHead,
    AuditEvent,
    chain_key,
)
from pb.db import db_session
from pb.delivery.models import ANSWER_LABELS, DELIVERY_LABELS
from pb.i18n import money, when
from pb.proposals.models import STATUS_LABELS, Screener
from pb.rounds.access import load_round
from pb.rounds.models import (
    DECLARED_FIELD_LABELS,
    ELIGIBILITY_LABELS,
    PHASE_LABELS,
    RULE_NAMES,
    BallotKind,
    Phase,
    Round,
)
from pb.verify.chain import Verification, verify_chain
from pb.verify.public import export_lines, visible_data
from pb.views import csv_download

bp = Blueprint("audit", __name__)

PAGE_SIZE = 100
MAX_PAGE = 1_000_000  # beyond any log; keeps the offset a number the database accepts

# What each action means, in plain words. An action not listed is shown by its code.
ACTION_LABELS = {
    "round.created": _l("Round created"),
    "round.deleted": _l("Draft round deleted"),
    "round.updated": _l("Round details changed"),
    "round.timeline_set": _l("Timeline set"),
    "round.help_set": _l("Contact, questions or paper-voting places changed"),
    "round.phase_changed": _l("Phase changed"),
    "round.change_refused": _l("Change refused"),
    "equality.monitoring_set": _l("Equality-monitoring questions switched on or off"),
    "ballot.order_drawn": _l("Order of the projects on the ballot drawn"),
    "ballot.terms_frozen": _l("What each ballot paper will be counted with, recorded as voting opened"),
    "round.counted": _l("Votes counted"),
    "round.recounted": _l("Votes counted again to check"),
    "area.added": _l("Area added"),
    "area.updated": _l("Area changed"),
    "area.figures_corrected": _l("Population or electorate of an area corrected"),
    "contest.added": _l("Ballot paper added"),
    "contest.updated": _l("Ballot paper changed"),
    "contest.limits_set": _l("Limits per category set on a ballot paper"),
    "partner.invited": _l("Partner anchor invited"),
    "pot.pledged": _l("Money pledged"),
    "pot.raised": _l("Pledge raised"),
    "proposal.created": _l("Proposal started"),
    "proposal.updated": _l("Proposal edited"),
    "proposal.submitted": _l("Proposal submitted"),
    "proposal.withdrawn": _l("Proposal withdrawn"),
    "proposal.restored": _l("Withdrawn proposal brought back as a draft"),
    "proposal.translated": _l("Proposal translated"),
    "proposal.reason_translated": _l("Screening reason translated"),
    "round.languages_set": _l("Round's languages chosen"),
    "round.translated": _l("Round's text translated"),
    "proposal.screened": _l("Proposal screened"),
    "screener.appointed": _l("Screener appointed"),
    "codes.generated": _l("Voting codes made"),
    "helper.appointed": _l("Polling helper appointed"),
    "recount.other_rule": _l("Count with a different rule"),
    "residents.addresses_deleted": _l("Residents' email addresses deleted"),
    "residents.declarations_deleted": _l("What residents declared to vote deleted"),
    "declarations.exported": _l("Residents' declarations taken by the returning officer to check"),
    "platform.restored": _l("Database restored from a backup"),
    "anchor.member_added": _l("A funding anchor gained a lead"),
    "delivery.updated": _l("Delivery update posted"),
    "verdict.comment_hidden": _l("Resident's comment hidden"),
    "question.hidden": _l("Question on a proposal removed"),
    "question.shown": _l("Question on a proposal shown again"),
    "question.answer_hidden": _l("Group's answer to a question removed"),
    "question.answer_shown": _l("Group's answer to a question shown again"),
    "codes.replaced": _l("Replacement voting codes made"),
    "codes.letter_cancelled": _l("A lost voting letter cancelled"),
    "paper.ballot_entered": _l("Paper ballot entered by a polling helper"),  # older rounds' logs: one per ballot
    "paper.ballots_entered": _l("Paper ballots a polling helper entered, counted when voting closed"),
    "residents.codes_unlinked": _l("Voting codes unlinked from the residents who used them"),
    "residents.identities_sealed": _l("Residents' identities sealed"),
    "returning_officer.appointed": _l("Returning officer appointed"),
    "voting.suspended": _l("Voting suspended"),
    "voting.resumed": _l("Voting resumed"),
    "voting.closed_early": _l("Voting closed before its published time"),
    "user.created": _l("Account created"),
    "user.password_changed": _l("Password changed"),
    "organisation.created": _l("Organisation added"),
    "organisation.member_added": _l("Member added to an organisation"),
    "organisation.member_invited": _l("Member invited to a group"),
}
# What each key of an event's data means, in plain words (the key itself stays in the
# CSV and JSON files, which are for checking).
DATA_LABELS = {
    "allocation": _l("Money given to the project"),
    "amount": _l("Amount"),
    "anchor": _l("Anchor"),
    "answer": _l("Answer"),
    "area": _l("Area"),
    "area_id": _l("Area"),
    "attempted": _l("What was tried"),
    "backup": _l("Backup file"),
    "backup_time": _l("Newest event in the backup"),
    "ballot_kind": _l("Ballot"),
    "ballots_in_backup": _l("Ballots in the backup"),
    "ballots_lost": _l("Ballots lost"),
    "batch": _l("Batch of codes"),
    "because": _l("Reason"),
    "by": _l("How"),
    "by_platform_admin": _l("By a platform admin"),
    "categories": _l("Categories"),
    "closes": _l("Voting closes"),
    "closes_was": _l("Voting was to close"),
    "codes": _l("Voting codes"),
    "turnout_sha256": _l("SHA-256 of the turnout taken at the count"),
    "contact": _l("Contact"),
    "contest": _l("Ballot paper"),
    "contests": _l("Ballot papers"),
    "count": _l("How many"),
    "currency": _l("Currency"),
    "decision": _l("Decision"),
    "declared_fields": _l("What residents declare"),
    "eligibility": _l("Who may vote"),
    "eligibility_methods": _l("How residents prove they may vote"),
    "email": _l("Email address"),
    "fields": _l("What would have changed"),
    "from": _l("From"),
    "identical": _l("Same result"),
    "kind": _l("Kind"),
    "limit_to_budget": _l("Ticked projects must fit the budget"),
    "limits": _l("Limits per category (category: fewest-most)"),
    "locale": _l("Language"),
    "max_picks": _l("Most projects a voter may tick"),
    "max_project_cost": _l("Most a single project may cost"),
    "method": _l("How the order is drawn"),
    "milestones": _l("Milestones"),
    "min_picks": _l("Fewest projects a voter must tick"),
    "minimum_age": _l("Minimum age to vote"),
    "move_now": _l("Moved on at once, as confirmed"),
    "name": _l("Name"),
    "objectives": _l("Charter objectives"),
    "on": _l("Residents are asked the equality-monitoring questions"),
    "organisation": _l("Organisation"),
    "others": _l("Other languages"),
    "over_allocation": _l("Spent more than it was given"),
    "partner_organisation": _l("Partner anchor"),
    "phase": _l("Phase"),
    "places": _l("Paper-voting places"),
    "platform_admin": _l("Platform admin"),
    "postcodes": _l("Postcodes"),
    "population": _l("Population"),
    "population_was": _l("Population before"),
    "electorate": _l("Electorate"),
    "electorate_was": _l("Electorate before"),
    "pot": _l("Pot"),
    "project": _l("Project"),
    "proposal": _l("Proposal"),
    "points_max": _l("Most points on one project"),
    "points_total": _l("Points each voter has"),
    "proposals_open_at": _l("Proposals open"),
    "purpose": _l("Purpose"),
    "question": _l("Question"),
    "questions": _l("Common questions"),
    "rank_depth": _l("How many projects a voter ranks"),
    "reason": _l("Reason"),
    "replaces": _l("Replaces"),
    "results_at": _l("Results published"),
    "round": _l("Round"),
    "rule": _l("Counting rule"),
    "screening_at": _l("Screening starts"),
    "seed": _l("Random seed"),
    "source": _l("Language the text is written in"),
    "spent": _l("Spent"),
    "spent_locally": _l("Spent locally"),
    "status": _l("Status"),
    "subtype": _l("Type"),
    "suspended_at": _l("Suspended at"),
    "themself": _l("Added themself"),
    "title": _l("Title"),
    "to": _l("To"),
    "total_cost": _l("Total cost"),
    "translated": _l("What was translated"),
    "translation": _l("Translation"),
    "update": _l("Update"),
    "user": _l("Person"),
    "verdict": _l("Verdict"),
    "verdict_addresses": _l("Addresses kept for verdicts"),
    "voting_closes_at": _l("Voting closes"),
    "voting_opens_at": _l("Voting opens"),
}
# Data values that are codes, by key (and, where a key means different things, by action),
# shown in words. A comma-separated value is a list of such codes.
VALUE_LABELS: dict[str, Mapping[Any, Any]] = {
    "answer": ANSWER_LABELS,
    "ballot_kind": {
        BallotKind.APPROVAL: _l("Approval"),
        BallotKind.RANKED: _l("Ranked"),
        BallotKind.POINTS: _l("Points"),
    },
    "decision": STATUS_LABELS,
    "declared_fields": DECLARED_FIELD_LABELS,
    "eligibility_methods": ELIGIBILITY_LABELS,
    "fields": DATA_LABELS,
    "kind": {OrganisationKind.ANCHOR: _l("Anchor institution"), OrganisationKind.GROUP: _l("Community group")},
    "rule": RULE_NAMES,
    "status": STATUS_LABELS,
    "subtype": {**ANCHOR_TYPES, **GROUP_TYPES},
}
ACTION_VALUE_LABELS: dict[tuple[str, str], Mapping[Any, Any]] = {("delivery.updated", "status"): DELIVERY_LABELS}
# Data values that are moments (ISO 8601), shown as dates and times.
MOMENT_KEYS = {
    "backup_time",
    "closes",
    "closes_was",
    "suspended_at",
    "proposals_open_at",
    "screening_at",
    "voting_opens_at",
    "voting_closes_at",
    "results_at",
}
# How a phase change came about (the "by" of round.phase_changed).
MOVED_BY = {
    "hand": _l("by hand"),
    "timeline": _l("on the date in the timeline"),
    "count": _l("by the count"),
}
# Data values that are sums of money (in minor units) or phases, shown as such.
MONEY_KEYS = {
    "pot.pledged": {"amount"},
    "pot.raised": {"from", "to"},
    "proposal.created": {"total_cost"},
    "proposal.updated": {"total_cost"},
    "delivery.updated": {"spent", "spent_locally", "allocation"},
    "round.updated": {"max_project_cost"},
}
PHASE_KEYS = {"round.phase_changed": {"from", "to"}, "round.change_refused": {"phase"}}
# Screeners act for the round's screening, not for the group whose proposal they judge.
SCREENING_ACTIONS = {"proposal.screened"}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def data_label(key: str) -> str:
    label = DATA_LABELS.get(key)
    return str(label) if label is not None else key


def _coded(action: str, key: str, value) -> str | None:
    """A value that is a code (or a list of codes, or codes joined by commas), in words;
    None when it is not one the labels know."""
    labels = ACTION_VALUE_LABELS.get((action, key)) or VALUE_LABELS.get(key)
    if labels is None:
        return None
    codes = value if isinstance(value, list) else value.split(",") if isinstance(value, str) else None
    if not codes or not all(isinstance(code, str) and code in labels for code in codes):
        return None
    return ", ".join(str(labels[code]) for code in codes)


def _moment(value) -> str | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return when(moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment)


# ---------------------------------------------------------------- the platform chain


@bp.route("/audit/platform")
@role_required(Role.PLATFORM_ADMIN)
def platform_log():
    session = db_session()
    rows = session.exec(
        select(AuditEvent, User, Organisation)
        .join(User, col(User.id) == col(AuditEvent.actor_user_id), isouter=True)
        .join(Organisation, col(Organisation.id) == col(AuditEvent.organisation_id), isouter=True)
        .where(AuditEvent.chain == PLATFORM_CHAIN)
        .order_by(col(AuditEvent.seq).desc())
        .limit(500)
    ).all()
    return render_template(
        "audit/log.html", rows=rows, verification=verify_chain(session, PLATFORM_CHAIN), action_label=action_label
    )


# ---------------------------------------------------------------- a round's chain, in public


@dataclass(frozen=True)
class Who:
    """Who an event is attributed to in public: an organisation, and a person's name
    only when they act for an anchor, for screening or as a platform admin."""

    organisation: str | None
    name: str | None = None
    role: str | None = None  # "screener" or "platform admin", when that is why the name is shown
    automatic: bool = False  # no person: the platform itself (timeline dates, the count)
    concerning: str | None = None  # the organisation recorded, when it is not the one acting


@dataclass
class LogFilter:
    """The filters asked for in the query string, checked against what the log holds.

    Values that cannot be understood (a page or organisation that is not a number) are
    ignored; a well-formed value that matches nothing gives an empty list."""

    action: str | None = None
    organisation_id: int | None = None
    page: int = 1
    matches_nothing: bool = False

    @classmethod
    def from_request(cls, actions: list[str], organisation_ids: set[int]) -> "LogFilter":
        args = request.args
        found = cls(
            action=args.get("action", "").strip() or None,
            organisation_id=args.get("organisation", type=int),
            page=min(max(1, args.get("page", 1, type=int)), MAX_PAGE),
        )
        if found.action is not None and found.action not in actions:
            found.matches_nothing = True
        if found.organisation_id is not None and found.organisation_id not in organisation_ids:
            found.matches_nothing = True  # so never queried, however large the number
        return found

    @property
    def active(self) -> bool:
        return self.action is not None or self.organisation_id is not None

    def query_args(self, **changes) -> dict:
        """The filters as query-string arguments (for links to other pages and the CSV)."""
        args = {"action": self.action, "organisation": self.organisation_id, **changes}
        return {key: value for key, value in args.items() if value is not None}

    def where(self, chain: str) -> list:
        conditions = [AuditEvent.chain == chain]
        if self.action is not None:
            conditions.append(AuditEvent.action == self.action)
        if self.organisation_id is not None:
            conditions.append(AuditEvent.organisation_id == self.organisation_id)
        return conditions


def _verify(session: Session, chain: str) -> Verification:
    """verify_chain, except that an event whose data is no longer JSON (an edit can do
    that) is reported as altered instead of raising."""
    try:
        return verify_chain(session, chain)
    except ValueError as error:
        failure = error
    # verify_chain checks events in order and stops at the first fault, so it failed on
    # the first event whose data will not parse, and every event before it verified.
    events = session.exec(select(AuditEvent).where(col(AuditEvent.chain) == chain).order_by(col(AuditEvent.seq)))
    head = GENESIS_HASH
    for count, event in enumerate(events, start=1):
        try:
            json.loads(event.data)
        except ValueError:
            return Verification(chain, count, head, f"event {event.seq} was altered", event.seq)
        head = event.entry_hash
    raise failure  # the data all parses: a different error, not ours to hide


def problem_text(session: Session, verification: Verification) -> str:
    """Why a chain does not verify, in the reader's language."""
    seq, problem = verification.bad_seq, verification.problem or ""
    if problem.endswith("was altered"):
        return _("Event %(seq)d was changed after it was recorded.", seq=seq)
    if problem.endswith("is missing"):
        return _("Event %(seq)d has been deleted.", seq=seq)
    if problem.endswith("does not follow the one before it"):
        return _("Event %(seq)d does not follow on from the event before it.", seq=seq)
    if "should end at" in problem:
        head = session.get(AuditChainHead, verification.chain)
        return _(
            "The log should end at event %(expected)d but ends at event %(actual)d.",
            expected=head.seq if head else 0,
            actual=verification.events,
        )
    return problem


def _people(session: Session, round_: Round, user_ids: set[int]) -> dict:
    """For the people who acted in these events: the anchors and groups they belong to,
    and which of them screen this round's proposals."""
    anchors: dict[int, str] = {}
    groups: dict[int, str] = {}
    if user_ids:
        memberships = session.exec(
            select(Membership.user_id, Organisation.name, Organisation.kind)
            .join(Organisation, col(Organisation.id) == col(Membership.organisation_id))
            .where(col(Membership.user_id).in_(user_ids))
            .order_by(Organisation.name)
        )
        for user_id, name, kind in memberships:
            (anchors if kind == OrganisationKind.ANCHOR.value else groups).setdefault(user_id, name)
    screeners = set(session.exec(select(Screener.user_id).where(Screener.round_id == round_.id)))
    return {"anchors": anchors, "groups": groups, "screeners": screeners}


def who(event: AuditEvent, user: User | None, organisation: Organisation | None, people: dict) -> Who:
    recorded = organisation.name if organisation else None
    if user is None:
        return Who(recorded, automatic=True)
    if event.action in SCREENING_ACTIONS:
        # Only screeners may screen (the service checks). They act for the round, so the
        # group whose proposal they judged is what the event concerns, not who they are.
        return Who(people["anchors"].get(user.id), user.name, _("screener"), concerning=recorded)
    if organisation is not None:
        if organisation.kind == OrganisationKind.ANCHOR.value:
            return Who(recorded, user.name)
        return Who(recorded)  # a member of a community group: the group, never the person
    # No organisation recorded (a refused change, for one): the one they belong to.
    if user.id in people["anchors"]:
        return Who(people["anchors"][user.id], user.name)
    if user.id in people["screeners"]:
        return Who(None, user.name, _("screener"))
    if user.is_platform_admin:
        return Who(None, user.name, _("platform admin"))
    return Who(people["groups"].get(user.id))


def details(event: AuditEvent, round_: Round) -> list[tuple[str, str]]:
    """An event's data as (key, value) pairs, with codes, phases and sums of money in words."""
    data = visible_data(event, round_)
    if not isinstance(data, dict):
        return [("", _plain(data))]
    money_keys = MONEY_KEYS.get(event.action, set())
    phase_keys = PHASE_KEYS.get(event.action, set())
    shown = []
    for key, value in data.items():
        if key in money_keys and isinstance(value, int) and not isinstance(value, bool):
            text = money(value, data.get("currency") if isinstance(data.get("currency"), str) else round_.currency)
        elif key in phase_keys and isinstance(value, str) and value in {p.value for p in Phase}:
            text = str(PHASE_LABELS[Phase(value)])
        elif key == "attempted" and isinstance(value, str):
            text = action_label(value)
        elif key == "by" and event.action == "round.phase_changed" and isinstance(value, str) and value in MOVED_BY:
            text = str(MOVED_BY[value])
        elif (coded := _coded(event.action, key, value)) is not None:
            text = coded
        elif key in MOMENT_KEYS and isinstance(value, str) and (moment := _moment(value)) is not None:
            text = moment
        else:
            text = _plain(value)
        shown.append((data_label(key), text))
    for key, entry in sealed_of(event).items():  # held back: say so, and until when
        if key not in data:
            private = isinstance(entry, dict) and entry.get("until") == PRIVATE
            shown.append(
                (data_label(key), _("kept private") if private else _("sealed until the results are published"))
            )
    return shown


def _plain(value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)
    return str(value)


def _round_log(round_id: int):
    """What the page and the CSV file share: the round, its chain, and the filters."""
    round_, _access = load_round(round_id)
    session = db_session()
    chain = chain_key(round_.id)
    actions = sorted(
        session.exec(select(AuditEvent.action).where(AuditEvent.chain == chain).distinct()), key=action_label
    )
    organisations = session.exec(
        select(Organisation)
        .where(col(Organisation.id).in_(select(col(AuditEvent.organisation_id)).where(col(AuditEvent.chain) == chain)))
        .order_by(Organisation.name)
    ).all()
    log_filter = LogFilter.from_request(actions, {o.id for o in organisations})
    return round_, session, chain, actions, organisations, log_filter


def _events(session: Session, chain: str, log_filter: LogFilter, *, newest_first: bool, offset=0, limit=None):
    order = col(AuditEvent.seq).desc() if newest_first else col(AuditEvent.seq)
    query = (
        select(AuditEvent, User, Organisation)
        .join(User, col(User.id) == col(AuditEvent.actor_user_id), isouter=True)
        .join(Organisation, col(Organisation.id) == col(AuditEvent.organisation_id), isouter=True)
        .where(*log_filter.where(chain))
        .order_by(order)
        .offset(offset)
        .limit(limit)
    )
    return session.exec(query).all()


@bp.route("/rounds/<int:round_id>/audit")
def round_log(round_id):
    round_, session, chain, actions, organisations, log_filter = _round_log(round_id)
    verification = _verify(session, chain)
    total = session.exec(select(func.count()).select_from(AuditEvent).where(AuditEvent.chain == chain)).one()
    matching, rows = 0, []
    if not log_filter.matches_nothing:
        matching = (
            session.exec(select(func.count()).select_from(AuditEvent).where(*log_filter.where(chain))).one()
            if log_filter.active
            else total
        )
    pages = max(1, -(-matching // PAGE_SIZE))
    if matching and log_filter.page <= pages:
        rows = _events(
            session, chain, log_filter, newest_first=True, offset=(log_filter.page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
    people = _people(session, round_, {user.id for _event, user, _org in rows if user is not None})
    return render_template(
        "audit/round_log.html",
        round=round_,
        verification=verification,
        problem=None if verification.ok else problem_text(session, verification),
        total=total,
        matching=matching,
        pages=pages,
        rows=[(event, who(event, user, org, people), details(event, round_)) for event, user, org in rows],
        actions=[(action, action_label(action)) for action in actions],
        organisations=organisations,
        log_filter=log_filter,
        action_label=action_label,
    )


CSV_COLUMNS = ["seq", "at", "action", "organisation", "actor", "data", "prev_hash", "entry_hash"]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@bp.route("/rounds/<int:round_id>/audit.csv")
def round_log_csv(round_id):
    """The same events as the page, oldest first (the order the chain is checked in)."""
    round_, session, chain, _actions, _organisations, log_filter = _round_log(round_id)
    rows = [] if log_filter.matches_nothing else _events(session, chain, log_filter, newest_first=False)
    people = _people(session, round_, {user.id for _event, user, _org in rows if user is not None})
    return csv_download(
        f"round-{round_.id}-audit-log.csv",
        CSV_COLUMNS,
        [
            [
                event.seq,
                _utc(event.created_at).isoformat(timespec="microseconds"),
                event.action,
                org.name if org else None,  # as recorded (and hashed), like the filter
                who(event, user, org, people).name,
                canonical_json(visible_data(event, round_)),
                event.prev_hash,
                event.entry_hash,
            ]
            for event, user, org in rows
        ],
    )


@bp.route("/rounds/<int:round_id>/audit.jsonl")
def round_log_export(round_id):
    """The chain as anyone can check it without trusting this server (docs/audit-format.md)."""
    round_, _access = load_round(round_id)
    text = "".join(line + "\n" for line in export_lines(db_session(), round_))
    return Response(
        text,
        mimetype="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="round-{round_.id}-audit.jsonl"'},
    )
