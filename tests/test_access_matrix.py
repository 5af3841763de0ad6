"""The access-control matrix: every route of the app, asked by every kind of person, gets
the answer the product's rules say it should.

The roles (the columns):

- anonymous: a visitor with no account and no proof of anything;
- resident: no account either, but has proved eligibility with a voting code, over HTTP:
  in the round in voting (a voting session, with one ballot cast) and, for verdicts, in
  the published round;
- member: a member of the community group that proposed the rounds' projects;
- lead: a lead of the anchor that convened both rounds;
- other_lead: a lead of another anchor, with no part in either round;
- screener: a community reviewer appointed to screen the round in voting (no organisation);
- helper: a polling helper appointed for the round in voting (no organisation);
- officer: the returning officer of the rounds in voting and published (no organisation);
- admin: a platform admin (no organisation).

The rows are written by hand from what each route is for and who may use it (DESIGN.md,
README.md): they are not a recording of what the app answers. Each expected answer is a
status code, or (302/303, where to) for a redirect. Signed-in pages send anonymous visitors
and residents (who have no account) to sign in; signed-in users without the role, or
without access to that object, get 403; a draft round is hidden (404) from visitors;
voting pages of a round not in voting say so with 409; results and reports do not exist
(404) until published. POSTs carry a valid CSRF token and an empty or harmless body, so a
role that is let in gets 400 (the form fails validation) or the refusal of a frozen round
(409), which proves the access decision without changing the arrangement.

`test_every_route_of_the_app_is_in_the_matrix` fails when a route is added without a row.
"""

import io
import re
from collections import namedtuple

from PIL import Image
from sqlmodel import select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from pb import lifecycle
from pb.accounts import services as accounts
from pb.delivery import services as delivery
from pb.delivery import verdicts
from pb.equality import services as equality
from pb.notices import services as notices
from pb.proposals import services as proposals
from pb.proposals.models import Project
from pb.proposals.photos import store_photo
from pb.questions import services as questions
from pb.rounds import services as rounds
from pb.rounds.models import Area, Contest, Pot, Round
from pb.voting import services as voting
from tests.conftest import FormClient
from tests.factories import OFFICER, let_voting_close, make_round, officer, open_voting, organisation, user

PASSWORD = "correct horse battery"
ADMIN, LEAD, OTHER_LEAD = "admin@example.org", "lead@council.example", "lead@fire.example"
MEMBER, SCREENER, HELPER = "chair@park.example", "reviewer@example.org", "helper@example.org"
FORGETFUL, NEWCOMER = "forgetful@example.org", "newcomer@example.org"
COUNCIL, FIRE, GROUP = "Eastshire Council", "Westshire Fire and Rescue", "Friends of the Park"

ROLES = ("anonymous", "resident", "member", "lead", "other_lead", "screener", "helper", "officer", "admin")
WITHOUT_ACCOUNT = ("anonymous", "resident")
SIGN_IN = (302, "/sign-in")
DASHBOARD = (302, "/dashboard")


# ---------------------------------------------------------------- how a row's expectations are written


def everyone(expected, **exceptions):
    """The same answer for every role, except those named."""
    unknown = set(exceptions) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {role: exceptions.get(role, expected) for role in ROLES}


def signed_in(default=403, **allowed):
    """A page for signed-in users: visitors and residents are sent to sign in, the roles
    named get their answer, every other signed-in user gets `default` (403 unless said)."""
    table = {role: SIGN_IN if role in WITHOUT_ACCOUNT else default for role in ROLES}
    return _merge(table, allowed)


def _merge(table, allowed):
    unknown = set(allowed) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {**table, **allowed}


def accounts_page(for_visitors):
    """Sign up and sign in: for people without an account; the signed-in go to their dashboard."""
    return {role: for_visitors if role in WITHOUT_ACCOUNT else DASHBOARD for role in ROLES}


def draft_round(**allowed):
    """A draft round is hidden: visitors are told it does not exist, signed-in users
    without a part in it are refused. That includes platform admins: the lead is told
    "Only your organisation and its partners can see it" and the draft's page says "only
    the anchors taking part can see it"."""
    table = {role: 404 if role in WITHOUT_ACCOUNT else 403 for role in ROLES}
    return _merge(table, allowed)


Row = namedtuple("Row", "endpoint method url expect data fresh")


def row(endpoint, method, url, expect, *, data=None, fresh=False):
    """One route asked in one way. `url` and redirect targets take the arranged ids as
    {placeholders}. `fresh`: the request changes the asker's own session (signing out,
    finishing voting), so it is sent from a copy of their browser."""
    return Row(endpoint, method, url, expect, data or {}, fresh)


TO_START = (302, "/rounds/{voting}/vote")
TO_PROVE = (302, "/rounds/{published}/residents?project={funded}")

# ---------------------------------------------------------------- the matrix
#
# {voting}: a round in voting (areas North and South, codes, a screener, a polling helper);
# {published}: a round whose results are published (a funded project with a delivery
# update and a resident's verdict); {draft}: a draft round. All three are convened by the
# lead's anchor; the group's proposals are on both ballots.

MATRIX = [
    # ------------------------------------------------ site-wide pages: anyone
    row("pages.index", "GET", "/", everyone(200)),
    row("pages.privacy", "GET", "/privacy", everyone(200)),
    row("pages.accessibility", "GET", "/accessibility", everyone(200)),
    row("healthz", "GET", "/healthz", everyone(200)),
    row("readyz", "GET", "/readyz", everyone(200)),
    # Development without a mail server, asked from this machine (production: 404).
    row("dev_outbox", "GET", "/dev/outbox", everyone(200)),
    row("favicon", "GET", "/favicon.ico", everyone(200)),
    row("pages.choose_language", "POST", "/language", everyone(400)),  # no language chosen
    # ------------------------------------------------ accounts
    row("accounts.sign_up", "GET", "/sign-up", accounts_page(200)),
    row("accounts.sign_up", "POST", "/sign-up", accounts_page(400)),
    row("accounts.sign_up_sent", "GET", "/sign-up/sent", everyone(200)),
    # A sign-up link works for whoever holds it (it is sent to the address being signed up).
    row("accounts.finish_sign_up", "GET", "/sign-up/{sign_up_token}", accounts_page(200)),
    row("accounts.finish_sign_up", "POST", "/sign-up/{sign_up_token}", accounts_page(400)),
    row("accounts.finish_sign_up", "GET", "/sign-up/not-a-token", accounts_page(404)),
    row("accounts.sign_in", "GET", "/sign-in", accounts_page(200)),
    row("accounts.sign_in", "POST", "/sign-in", accounts_page(400)),
    row("accounts.sign_out", "POST", "/sign-out", everyone((302, "/")), fresh=True),
    row("accounts.sign_out", "GET", "/sign-out", everyone(405)),
    row("accounts.sign_out_everywhere", "POST", "/sign-out-everywhere", signed_in(default=(302, "/")), fresh=True),
    row("accounts.reset_request", "GET", "/reset-password", everyone(200)),
    row("accounts.reset_request", "POST", "/reset-password", everyone(400)),
    # A reset link works for whoever holds it (it is sent to the account's address).
    row("accounts.reset_password", "GET", "/reset-password/{reset_token}", everyone(200)),
    row("accounts.reset_password", "POST", "/reset-password/{reset_token}", everyone(400)),
    row("accounts.reset_password", "GET", "/reset-password/not-a-token", everyone(404)),
    row("accounts.dashboard", "GET", "/dashboard", signed_in(200)),
    row("accounts.anchor_home", "GET", "/anchor", signed_in(lead=200, other_lead=200)),
    row("accounts.group_home", "GET", "/group", signed_in(member=200)),
    row("admin.organisations", "GET", "/admin/organisations", signed_in(admin=200)),
    row("admin.organisations", "POST", "/admin/organisations", signed_in(admin=400)),
    row("admin.organisation", "GET", "/admin/organisations/{group}", signed_in(admin=200)),
    row("admin.organisation", "POST", "/admin/organisations/{group}", signed_in(admin=400)),
    # ------------------------------------------------ community groups
    row("groups.register", "GET", "/groups/new", signed_in(200)),  # anyone with an account may register a group
    row("groups.register", "POST", "/groups/new", signed_in(400)),
    row("groups.show", "GET", "/groups/{group}", signed_in(member=200)),
    row("groups.show", "POST", "/groups/{group}", signed_in(member=400)),
    row("groups.show", "GET", "/groups/{council}", signed_in(404)),  # an anchor is not a group
    # An invitation link shows who invites; only the invited address may accept it.
    row("groups.accept", "GET", "/groups/invitations/{invitation}", signed_in(200)),
    row("groups.accept", "POST", "/groups/invitations/{invitation}", signed_in(403)),
    row("groups.accept", "GET", "/groups/invitations/not-a-token", signed_in(404)),
    # ------------------------------------------------ rounds: public pages
    row("rounds.index", "GET", "/rounds/", everyone(200)),
    row("rounds.show", "GET", "/rounds/{voting}", everyone(200)),
    row("rounds.show", "GET", "/rounds/{draft}", draft_round(lead=200)),
    row("rounds.help", "GET", "/rounds/{voting}/help", everyone(200)),
    row("rounds.help", "GET", "/rounds/{draft}/help", draft_round(lead=200)),
    # ------------------------------------------------ rounds: the convening anchor's tools
    row("rounds.new", "GET", "/rounds/new", signed_in(lead=200, other_lead=200)),
    row("rounds.new", "POST", "/rounds/new", signed_in(lead=400, other_lead=400)),
    row("rounds.manage", "GET", "/rounds/{voting}/manage", signed_in(lead=200)),
    row("rounds.manage", "GET", "/rounds/{draft}/manage", signed_in(lead=200)),
    row("rounds.edit", "GET", "/rounds/{voting}/edit", signed_in(lead=200)),
    row("rounds.edit", "POST", "/rounds/{voting}/edit", signed_in(lead=400)),
    row("rounds.timeline", "GET", "/rounds/{voting}/timeline", signed_in(lead=200)),
    # An empty timeline is a valid form, but the round is frozen: refused and logged.
    row("rounds.timeline", "POST", "/rounds/{voting}/timeline", signed_in(lead=409)),
    row("rounds.area", "GET", "/rounds/{voting}/areas/new", signed_in(lead=200)),
    row("rounds.area", "POST", "/rounds/{voting}/areas/new", signed_in(lead=400)),
    row("rounds.area", "GET", "/rounds/{voting}/areas/{voting_area}", signed_in(lead=200)),
    # Once voting has opened, only an area's population and electorate may be corrected: an
    # empty form leaves both unknown, as they are, and changes nothing.
    row(
        "rounds.area",
        "POST",
        "/rounds/{voting}/areas/{voting_area}",
        signed_in(lead=(302, "/rounds/{voting}/manage")),
    ),
    row("rounds.area", "GET", "/rounds/{voting}/areas/{published_area}", signed_in(lead=404)),  # another round's area
    row("rounds.contest", "GET", "/rounds/{voting}/contests/new", signed_in(lead=200)),
    row("rounds.contest", "POST", "/rounds/{voting}/contests/new", signed_in(lead=400)),
    row("rounds.contest", "GET", "/rounds/{voting}/contests/{voting_north}", signed_in(lead=200)),
    row("rounds.contest", "POST", "/rounds/{voting}/contests/{voting_north}", signed_in(lead=400)),
    row("rounds.contest", "GET", "/rounds/{voting}/contests/{published_north}", signed_in(lead=404)),
    row("rounds.contest_limits", "GET", "/rounds/{voting}/contests/{voting_north}/limits", signed_in(lead=200)),
    # An empty form is valid (no limits), but the round is frozen: refused and logged.
    row("rounds.contest_limits", "POST", "/rounds/{voting}/contests/{voting_north}/limits", signed_in(lead=409)),
    row("rounds.contest_limits", "GET", "/rounds/{voting}/contests/{published_north}/limits", signed_in(lead=404)),
    row("rounds.partners", "GET", "/rounds/{voting}/partners", signed_in(lead=200)),
    row("rounds.partners", "POST", "/rounds/{voting}/partners", signed_in(lead=400)),
    row("rounds.pledge", "GET", "/rounds/{voting}/pots/new", signed_in(lead=200)),
    row("rounds.pledge", "POST", "/rounds/{voting}/pots/new", signed_in(lead=400)),
    row("rounds.raise_pot", "GET", "/rounds/{voting}/pots/{voting_pot}", signed_in(lead=200)),
    row("rounds.raise_pot", "POST", "/rounds/{voting}/pots/{voting_pot}", signed_in(lead=400)),
    row("rounds.next_phase", "GET", "/rounds/{published}/phase", signed_in(lead=200)),
    row("rounds.next_phase", "POST", "/rounds/{voting}/phase", signed_in(lead=200)),  # not confirmed: the page again
    row("rounds.delete", "GET", "/rounds/{draft}/delete", signed_in(lead=200)),
    row("rounds.delete", "POST", "/rounds/{draft}/delete", signed_in(lead=200)),  # not confirmed: the page again
    row("rounds.delete", "GET", "/rounds/{voting}/delete", signed_in(lead=404)),  # only a draft can be deleted
    row("rounds.suspension", "GET", "/rounds/{voting}/suspension", signed_in(lead=200, officer=200)),
    row(
        "rounds.suspension", "POST", "/rounds/{voting}/suspension", signed_in(lead=400, officer=400)
    ),  # no reason given
    row("rounds.suspension", "GET", "/rounds/{draft}/suspension", signed_in(lead=200)),
    row("rounds.returning_officer", "GET", "/rounds/{voting}/returning-officer", signed_in(lead=200)),
    row("rounds.returning_officer", "POST", "/rounds/{voting}/returning-officer", signed_in(lead=400)),
    # The round's languages and its own text in them: the convening lead's (an empty form is refused as such).
    row("languages.round_languages", "GET", "/rounds/{voting}/languages", signed_in(lead=200)),
    row("languages.round_languages", "POST", "/rounds/{voting}/languages", signed_in(lead=400)),
    row("languages.round_translations", "GET", "/rounds/{voting}/translations", signed_in(lead=200)),
    row("languages.round_translations", "POST", "/rounds/{voting}/translations", signed_in(lead=400)),
    # Contact and questions stay correctable while voting is open: a question without its answer is refused.
    row("rounds.edit_help", "GET", "/rounds/{voting}/help/edit", signed_in(lead=200)),
    row(
        "rounds.edit_help",
        "POST",
        "/rounds/{voting}/help/edit",
        signed_in(lead=400),
        data={"questions-0-question": "Who?"},
    ),
    # rounds.next_phase POST is the last row: it moves the published round on to delivery.
    # ------------------------------------------------ proposals
    row("proposals.index", "GET", "/rounds/{voting}/proposals", everyone(200)),
    row("proposals.index", "GET", "/rounds/{draft}/proposals", draft_round(lead=200)),
    row("proposals.show", "GET", "/proposals/{proposal}", everyone(200)),
    row(
        "proposals.show", "GET", "/proposals/{draft_proposal}", everyone(404, member=200)
    ),  # a draft is the group's own
    row("proposals.photo", "GET", "/proposals/{proposal}/photo", everyone(200)),
    row("proposals.photo", "GET", "/proposals/{draft_proposal}/photo", everyone(404, member=200)),
    row("proposals.new", "GET", "/rounds/{voting}/proposals/new", signed_in(member=200)),
    row("proposals.new", "POST", "/rounds/{voting}/proposals/new", signed_in(member=400)),
    row("proposals.edit", "GET", "/proposals/{proposal}/edit", signed_in(member=200)),
    row("proposals.edit", "POST", "/proposals/{proposal}/edit", signed_in(member=400)),
    # The group may ask; the frozen round refuses (and says why on the proposal's page).
    row(
        "proposals.change_status",
        "POST",
        "/proposals/{proposal}/submit",
        signed_in(member=(303, "/proposals/{proposal}")),
    ),
    row(
        "proposals.change_status",
        "POST",
        "/proposals/{proposal}/withdraw",
        signed_in(member=(303, "/proposals/{proposal}")),
    ),
    row(
        "proposals.change_status",
        "POST",
        "/proposals/{proposal}/restore",
        signed_in(member=(303, "/proposals/{proposal}")),
    ),
    row("proposals.confirm_withdraw", "GET", "/proposals/{proposal}/withdraw", signed_in(member=200)),  # asked first
    # Screening: the appointed screener, and the leads of the round's anchors (who screen too).
    row("proposals.screening", "GET", "/rounds/{voting}/screening", signed_in(lead=200, screener=200)),
    row("proposals.screen", "GET", "/proposals/{proposal}/screen", signed_in(lead=200, screener=200)),
    row("proposals.screen", "POST", "/proposals/{proposal}/screen", signed_in(lead=400, screener=400)),
    row("proposals.screen", "GET", "/proposals/{draft_proposal}/screen", signed_in(403)),  # nobody screens a draft
    row("proposals.screeners", "GET", "/rounds/{voting}/screeners", signed_in(lead=200)),
    row("proposals.screeners", "POST", "/rounds/{voting}/screeners", signed_in(lead=400)),
    # A proposal's text in the round's other languages: its group's alone (the lead does not speak for it).
    row("languages.proposal_translations", "GET", "/proposals/{proposal}/translations", signed_in(member=200)),
    row("languages.proposal_translations", "POST", "/proposals/{proposal}/translations", signed_in(member=400)),
    row("languages.proposal_translations", "GET", "/proposals/{draft_proposal}/translations", signed_in(member=200)),
    # The reasons for screening decisions in those languages: the screeners'.
    row(
        "languages.reason_translations",
        "GET",
        "/proposals/{proposal}/reason-translations",
        signed_in(lead=200, screener=200),
    ),
    row(
        "languages.reason_translations",
        "POST",
        "/proposals/{proposal}/reason-translations",
        signed_in(lead=400, screener=400),
    ),
    row("languages.reason_translations", "GET", "/proposals/{draft_proposal}/reason-translations", signed_in(403)),
    # ------------------------------------------------ questions on proposals
    # Asked and answered until voting opens: in the round in voting both are closed (409),
    # for anyone who may read the proposal; a draft proposal is its group's alone.
    row("questions.ask", "GET", "/proposals/{proposal}/ask", everyone(409)),
    row("questions.ask", "POST", "/proposals/{proposal}/ask", everyone(409)),
    row("questions.ask", "GET", "/proposals/{draft_proposal}/ask", everyone(404, member=409)),
    row("questions.confirm", "GET", "/proposals/{proposal}/ask/code", everyone(409)),
    row("questions.confirm", "POST", "/proposals/{proposal}/ask/code", everyone(409)),
    # The proposing group answers (closed now); the convening anchor's leads moderate, even during the vote.
    row("questions.answer", "GET", "/questions/{question}/answer", signed_in(member=409)),
    row("questions.answer", "POST", "/questions/{question}/answer", signed_in(member=409)),
    row("questions.moderate", "GET", "/questions/{question}/hide/question", signed_in(lead=200)),
    row("questions.moderate", "POST", "/questions/{question}/hide/question", signed_in(lead=400)),  # no reason
    row("questions.moderate", "GET", "/questions/{question}/show/answer", signed_in(lead=200)),
    row("questions.moderate", "POST", "/questions/{question}/show/answer", signed_in(lead=400)),
    # ------------------------------------------------ voting: the resident's journey (no account)
    row("voting.start", "GET", "/rounds/{voting}/vote", everyone(200)),
    row("voting.start", "GET", "/rounds/{published}/vote", everyone(409)),  # voting is over
    row("voting.start", "GET", "/rounds/{draft}/vote", draft_round(lead=409)),
    row("voting.with_code", "POST", "/rounds/{voting}/vote/code", everyone(400)),
    row("voting.with_declaration", "POST", "/rounds/{voting}/vote/declare", everyone(400)),
    row("voting.with_email", "POST", "/rounds/{voting}/vote/email", everyone(400)),
    row("voting.email_code", "GET", "/rounds/{voting}/vote/email/code", everyone(200)),
    row("voting.email_code", "POST", "/rounds/{voting}/vote/email/code", everyone(400)),
    row("voting.with_sms", "POST", "/rounds/{voting}/vote/sms", everyone(400)),
    row("voting.sms_code", "GET", "/rounds/{voting}/vote/sms/code", everyone(200)),
    row("voting.sms_code", "POST", "/rounds/{voting}/vote/sms/code", everyone(400)),
    # Ballots are for whoever proved eligibility in this browser; everyone else proves it first.
    row("voting.ballots", "GET", "/rounds/{voting}/vote/ballots", everyone(TO_START, resident=200)),
    row("voting.ballot", "GET", "/rounds/{voting}/vote/{voting_north}", everyone(TO_START, resident=200)),
    row(
        "voting.ballot", "POST", "/rounds/{voting}/vote/{voting_north}", everyone(TO_START, resident=400)
    ),  # nothing ticked
    row(
        "voting.ballot", "GET", "/rounds/{voting}/vote/{voting_south}", everyone(TO_START, resident=403)
    ),  # not their area
    # A receipt is shown only to the browser that cast the ballot.
    row("voting.receipt", "GET", "/rounds/{voting}/vote/receipt", everyone(404, resident=200)),
    # Equality monitoring (both rounds ask). Before voting.finish, which ends the resident's voting.
    # The optional questions: for the browser that has just voted (an empty form sends nothing).
    row("equality.answer", "GET", "/rounds/{voting}/vote/about-you", everyone(TO_START, resident=200)),
    row(
        "equality.answer",
        "POST",
        "/rounds/{voting}/vote/about-you",
        everyone(TO_START, resident=(303, "/rounds/{voting}/vote/receipt")),
    ),
    row("equality.answer", "GET", "/rounds/{published}/vote/about-you", everyone(409)),  # voting is over
    # The switch: the convening lead's, refused once voting has opened.
    row("equality.settings", "GET", "/rounds/{voting}/equality/settings", signed_in(lead=200)),
    row("equality.settings", "POST", "/rounds/{voting}/equality/settings", signed_in(lead=409)),
    row("equality.settings", "GET", "/rounds/{draft}/equality/settings", signed_in(lead=200)),
    # The figures: nobody while voting is open (they would show who answers what); everyone with the results.
    row("equality.figures", "GET", "/rounds/{voting}/equality", everyone(404)),
    row("equality.figures", "GET", "/rounds/{published}/equality", everyone(200)),
    row("voting.finish", "POST", "/rounds/{voting}/vote/finish", everyone((302, "/rounds/{voting}")), fresh=True),
    # Voting codes and polling helpers: the convening anchor.
    # The returning officer alone: no lead of a funding anchor ever sees a code.
    row("voting.codes", "GET", "/rounds/{voting}/codes", signed_in(officer=200)),
    row("voting.codes", "POST", "/rounds/{voting}/codes", signed_in(officer=400)),
    row("voting.codes", "GET", "/rounds/{draft}/codes", signed_in()),
    row(
        "voting.cancel_letter",
        "POST",
        "/rounds/{voting}/codes/cancel",
        signed_in(officer=(303, "/rounds/{voting}/codes")),
    ),
    # Turnout so far (voters by area and method, never votes): the round's leads and its returning
    # officer; once counted, the figures the count took (published with the results).
    row("voting.turnout", "GET", "/rounds/{voting}/turnout", signed_in(lead=200, officer=200)),
    row("voting.turnout", "GET", "/rounds/{published}/turnout", signed_in(lead=200, officer=200)),
    row("voting.turnout", "GET", "/rounds/{draft}/turnout", signed_in(lead=200)),
    row("voting.helpers", "GET", "/rounds/{voting}/helpers", signed_in(officer=200)),
    row("voting.helpers", "POST", "/rounds/{voting}/helpers", signed_in(officer=400)),
    # Residents' declarations, to check against the register: the returning officer alone.
    row("voting.declarations", "GET", "/rounds/{voting}/declarations", signed_in(officer=200)),
    row("voting.declarations", "POST", "/rounds/{voting}/declarations", signed_in(officer=200)),
    row("voting.declarations", "GET", "/rounds/{draft}/declarations", signed_in()),
    # Paper ballots: the round's polling helpers only.
    row("voting.paper", "GET", "/rounds/{voting}/paper", signed_in(helper=200)),
    row("voting.paper", "POST", "/rounds/{voting}/paper", signed_in(helper=400)),
    # ------------------------------------------------ results: public once published, for nobody before
    row("results.index", "GET", "/rounds/{published}/results", everyone(200)),
    row("results.contest", "GET", "/rounds/{published}/results/{published_north}", everyone(200)),
    row("results.ballot_file", "GET", "/rounds/{published}/results/{published_north}/ballots.pb", everyone(200)),
    row("results.results_csv", "GET", "/rounds/{published}/results/{published_north}/results.csv", everyone(200)),
    row("results.results_json", "GET", "/rounds/{published}/results/{published_north}/results.json", everyone(200)),
    row("results.receipts", "GET", "/rounds/{published}/results/{published_north}/receipts.txt", everyone(200)),
    row("results.recount_yourself", "GET", "/rounds/{published}/results/recount", everyone(200)),
    row("results.receipt_check", "GET", "/rounds/{published}/results/receipt", everyone(200)),
    row("results.receipt_check", "POST", "/rounds/{published}/results/receipt", everyone(400)),
    # While voting is open nobody, not the lead nor the admin, sees a count or a ballot.
    row("results.index", "GET", "/rounds/{voting}/results", everyone(404)),
    row("results.contest", "GET", "/rounds/{voting}/results/{voting_north}", everyone(404)),
    row("results.ballot_file", "GET", "/rounds/{voting}/results/{voting_north}/ballots.pb", everyone(404)),
    row("results.results_csv", "GET", "/rounds/{voting}/results/{voting_north}/results.csv", everyone(404)),
    row("results.results_json", "GET", "/rounds/{voting}/results/{voting_north}/results.json", everyone(404)),
    row("results.receipts", "GET", "/rounds/{voting}/results/{voting_north}/receipts.txt", everyone(404)),
    row("results.receipt_check", "GET", "/rounds/{voting}/results/receipt", everyone(404)),
    # The convening lead may recount with the frozen rule (it must come out the same).
    row("results.recount", "POST", "/rounds/{published}/recount", signed_in(lead=(302, "/rounds/{published}/manage"))),
    row("results.recount", "GET", "/rounds/{published}/recount", everyone(405)),
    # ------------------------------------------------ audit
    row("audit.platform_log", "GET", "/audit/platform", signed_in(admin=200)),
    row("audit.round_log", "GET", "/rounds/{voting}/audit", everyone(200)),
    row("audit.round_log_csv", "GET", "/rounds/{voting}/audit.csv", everyone(200)),
    row("audit.round_log", "GET", "/rounds/{draft}/audit", draft_round(lead=200)),
    row("audit.round_log_csv", "GET", "/rounds/{draft}/audit.csv", draft_round(lead=200)),
    row("audit.round_log_export", "GET", "/rounds/{voting}/audit.jsonl", everyone(200)),
    row("audit.round_log_export", "GET", "/rounds/{draft}/audit.jsonl", draft_round(lead=200)),
    # ------------------------------------------------ delivery and residents' verdicts
    row("delivery.project", "GET", "/projects/{funded}", everyone(200)),
    row("delivery.project", "GET", "/projects/{unfunded}", everyone(404)),
    row("delivery.photo", "GET", "/projects/{funded}/updates/{update}/photo", everyone(200)),
    row("delivery.update", "GET", "/projects/{funded}/update", signed_in(member=200)),  # the funded group reports
    row("delivery.update", "POST", "/projects/{funded}/update", signed_in(member=400)),
    row("delivery.prove", "GET", "/rounds/{published}/residents", everyone(200)),
    row("delivery.prove", "GET", "/rounds/{voting}/residents", everyone(404)),  # no verdicts before results
    row("delivery.prove_with_code", "POST", "/rounds/{published}/residents/code", everyone(400)),
    row("delivery.prove_with_email", "POST", "/rounds/{published}/residents/email", everyone(400)),
    row("delivery.prove_email_code", "GET", "/rounds/{published}/residents/email/code", everyone(200)),
    row("delivery.prove_email_code", "POST", "/rounds/{published}/residents/email/code", everyone(400)),
    row("delivery.verdict", "GET", "/projects/{funded}/verdict", everyone(TO_PROVE, resident=200)),
    row("delivery.verdict", "POST", "/projects/{funded}/verdict", everyone(TO_PROVE, resident=400)),  # no answer
    row("delivery.hide", "POST", "/verdicts/{verdict}/hide", signed_in(lead=400)),  # no reason given
    row("delivery.hide", "GET", "/verdicts/{verdict}/hide", everyone(405)),
    # ------------------------------------------------ reports: public once published
    row("reports.round_money", "GET", "/rounds/{published}/money", everyone(200)),
    row("reports.round_money_csv", "GET", "/rounds/{published}/money.csv", everyone(200)),
    row("reports.round_money", "GET", "/rounds/{voting}/money", everyone(404)),
    row("reports.round_money_csv", "GET", "/rounds/{voting}/money.csv", everyone(404)),
    row("reports.anchor_report", "GET", "/anchors/{council}/report", everyone(200)),
    row("reports.anchor_report_csv", "GET", "/anchors/{council}/report.csv", everyone(200)),
    row("reports.anchor_report", "GET", "/anchors/{group}/report", everyone(404)),  # a group is not an anchor
    row("reports.anchor_report_csv", "GET", "/anchors/{group}/report.csv", everyone(404)),
    # ------------------------------------------------ residents' news of a round: anyone, no account
    row("notices.subscribe", "GET", "/rounds/{voting}/news", everyone(200)),
    row("notices.subscribe", "POST", "/rounds/{voting}/news", everyone(400)),  # no address
    row("notices.subscribe", "GET", "/rounds/{draft}/news", draft_round(lead=404)),  # nothing to tell of a draft
    # The links work for whoever holds them (they are sent to the address concerned).
    row("notices.confirm", "GET", "/news/confirm/{news_token}", everyone(200)),
    row("notices.confirm", "POST", "/news/confirm/{news_token}", everyone((302, "/rounds/{voting}"))),
    row("notices.confirm", "GET", "/news/confirm/not-a-token", everyone(404)),
    row("notices.stop", "GET", "/news/stop/{stop_token}", everyone(200)),
    row("notices.stop", "POST", "/news/stop/{stop_token}", everyone(200)),  # stops this round's news (the default)
    row("notices.stop", "GET", "/news/stop/not-a-token", everyone(404)),
    # ------------------------------------------------ last: it changes the published round's phase
    row(
        "rounds.next_phase",
        "POST",
        "/rounds/{published}/phase",
        signed_in(lead=(302, "/rounds/{published}/manage")),
        data={"confirm": "y"},
    ),
]


# ---------------------------------------------------------------- the arrangement


def _png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (20, 120, 60)).save(out, "PNG")
    out.seek(0)
    return out


def _content(contest_id: int, title: str, photo: str | None = None) -> proposals.ProposalContent:
    return proposals.ProposalContent(
        contest_id=contest_id,
        title=title,
        summary="A short summary.",
        description="",
        beneficiaries="",
        category_id=None,
        postcode=None,
        cost_lines=[("Everything", 5_000_00)],
        objective_ids=[],
        photo=photo,
    )


def arrange(app, db, make_user) -> dict:
    """Through the service layer: three rounds, people in every role, and one of each
    object the routes are about. Returns the ids."""
    make_user(ADMIN, admin=True)
    make_user(LEAD, organisation=COUNCIL, kind="anchor")
    make_user(OTHER_LEAD, organisation=FIRE, kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    for email in (SCREENER, HELPER, FORGETFUL):
        make_user(email)

    # The round in voting: a screener and a helper appointed, codes made, the group's
    # proposals screened eligible (one with a photo) and one left as a draft.
    ours = make_round(app, db, convener=LEAD, anchor=COUNCIL, methods=("codes", "email", "declared", "paper"))
    with app.test_request_context(), db() as session:
        round_, lead, member = session.get(Round, ours["round"]), user(session, LEAD), user(session, MEMBER)
        equality.set_monitoring(session, round_, actor=lead, on=True)
        proposals.appoint_screener(session, round_, actor=lead, user=user(session, SCREENER))
        voting.appoint_helper(session, round_, actor=officer(session, round_, LEAD), user=user(session, HELPER))
        [(ours["code"], _letter)] = voting.generate_codes(
            session, round_, actor=officer(session, round_), area=session.get(Area, ours["areas"]["North"]), count=1
        )
        group = organisation(session, GROUP)
        north = ours["contests"]["North"]
        pictured = proposals.create_proposal(
            session,
            round_,
            actor=member,
            organisation=group,
            content=_content(north, "Wildflower verges", store_photo(_png())),
        )
        proposals.submit_proposal(session, pictured, actor=member)
        proposals.screen_proposal(session, pictured, actor=user(session, SCREENER), decision="eligible", reason="")
        draft = proposals.create_proposal(
            session,
            round_,
            actor=member,
            organisation=group,
            content=_content(north, "Half-written idea", store_photo(_png())),
        )
        ours["proposal"], ours["draft_proposal"] = pictured.id, draft.id
        # A resident's question, answered by the group, before voting opens.
        asked = questions.ask(session, pictured, user=user(session, FORGETFUL), text="Which verges?")
        questions.answer(session, asked, actor=member, text="Along the ring road.")
        ours["question"] = asked.id
        ours["pot"] = session.exec(select(Pot.id).where(Pot.contest_id == north)).one()
    open_voting(app, db, ours, convener=LEAD, screener=SCREENER, member=MEMBER, group=GROUP, per_contest=2)

    # The published round: voted with codes, counted, published; a funded project with a
    # delivery update (with a photo) and a resident's verdict.
    theirs = make_round(app, db, convener=LEAD, anchor=COUNCIL, methods=("codes", "email"))
    with app.test_request_context(), db() as session:
        round_, lead = session.get(Round, theirs["round"]), user(session, LEAD)
        equality.set_monitoring(session, round_, actor=lead, on=True)
        codes = {
            area: [
                code
                for code, _letter in voting.generate_codes(
                    session,
                    round_,
                    actor=officer(session, round_, LEAD),
                    area=session.get(Area, theirs["areas"][area]),
                    count=3,
                )
            ]
            for area in ("North", "South")
        }
    open_voting(app, db, theirs, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP, per_contest=6)
    with app.test_request_context(), db() as session:
        round_, lead = session.get(Round, theirs["round"]), user(session, LEAD)
        for area, area_codes in codes.items():
            contest = session.get(Contest, theirs["contests"][area])
            projects = session.exec(
                select(Project.id).where(Project.contest_id == contest.id).order_by(Project.id)
            ).all()
            for n, code in enumerate(area_codes[:2]):
                voter = voting.voter_by_code(session, round_, code, client="arrangement")
                voting.cast_ballot(session, voter, contest, {projects[n]: None, projects[2]: None})
        let_voting_close(session, round_)
        lifecycle.move_to_next_phase(session, round_, actor=lead)  # publish
        funded = delivery.funded_project_ids(session, round_)
        everything = set(session.exec(select(Project.id).join(Contest).where(Contest.round_id == round_.id)))
        assert funded
        assert everything - funded
        project = session.get(Project, min(funded))
        update = delivery.post_update(
            session,
            project,
            actor=user(session, MEMBER),
            content=delivery.UpdateContent(status="in_progress", note="Started.", photo=store_photo(_png())),
        )
        verdict = verdicts.give_verdict(
            session, project, resident="someone-who-proved-it", answer="no", comment="Not yet."
        )
        ids = {
            "voting": ours["round"],
            "voting_north": ours["contests"]["North"],
            "voting_south": ours["contests"]["South"],
            "voting_area": ours["areas"]["North"],
            "voting_pot": ours["pot"],
            "proposal": ours["proposal"],
            "draft_proposal": ours["draft_proposal"],
            "question": ours["question"],
            "published": theirs["round"],
            "published_north": theirs["contests"]["North"],
            "published_area": theirs["areas"]["North"],
            "funded": project.id,
            "unfunded": min(everything - funded),
            "update": update.id,
            "verdict": verdict.id,
            "resident_code": codes["North"][2],
        }

        # A draft round, the organisations, and the links people get by email.
        draft_round_ = rounds.create_round(
            session, actor=lead, organisation=organisation(session, COUNCIL), title="Not public yet"
        )
        ids["draft"] = draft_round_.id
        ids["council"], ids["group"] = organisation(session, COUNCIL).id, organisation(session, GROUP).id
        ids["reset_token"] = accounts.password_reset_token(user(session, FORGETFUL))
        ids["sign_up_token"] = accounts.sign_up_token("joiner@example.org", "Jo Iner")
        ids["news_token"] = notices.confirm_token(session.get(Round, ids["voting"]), "news@example.org")
        ids["stop_token"] = notices.stop_token(ids["voting"], "news@example.org")
        ids["invitation"] = accounts.invite_member(
            session, actor=user(session, MEMBER), organisation=organisation(session, GROUP), email=NEWCOMER
        )
    ids["code"] = ours["code"]
    return ids


def people(app, db, ids) -> dict[str, FormClient]:
    """A browser per role. The resident proves eligibility over HTTP, casts a ballot (for
    a receipt) and proves it again for verdicts on the published round."""
    browsers = {"anonymous": FormClient(app)}
    resident = FormClient(app)
    voting_round = ids["voting"]
    proved = resident.submit(
        f"/rounds/{voting_round}/vote/code", {"code": ids["code"]}, page=f"/rounds/{voting_round}/vote"
    )
    assert proved.status_code == 302, proved.get_data(as_text=True)
    with db(write=False) as session:
        project = session.exec(
            select(Project.id).where(Project.contest_id == ids["voting_north"]).order_by(Project.id)
        ).first()
    cast = resident.submit(
        f"/rounds/{voting_round}/vote/{ids['voting_north']}", {"project": str(project), "confirm": "1"}
    )
    assert cast.status_code == 302, cast.get_data(as_text=True)
    assert cast.headers["Location"].endswith("/vote/receipt"), cast.get_data(as_text=True)
    ids["receipt"] = re.search(
        r'class="receipt"><strong>([0-9A-Z-]+)<', resident.get(cast.headers["Location"]).get_data(as_text=True)
    ).group(1)
    published = ids["published"]
    proved = resident.submit(
        f"/rounds/{published}/residents/code", {"code": ids["resident_code"]}, page=f"/rounds/{published}/residents"
    )
    assert proved.status_code == 302, proved.get_data(as_text=True)
    browsers["resident"] = resident
    browsers.update(signed_in_browsers(app))
    return browsers


def signed_in_browsers(app) -> dict[str, FormClient]:
    """A newly signed-in browser for each role with an account."""
    browsers = {}
    for role, email in (
        ("member", MEMBER),
        ("lead", LEAD),
        ("other_lead", OTHER_LEAD),
        ("screener", SCREENER),
        ("helper", HELPER),
        ("officer", OFFICER),
        ("admin", ADMIN),
    ):
        browsers[role] = FormClient(app)
        browsers[role].sign_in(email, PASSWORD)
    return browsers


def copy_of(browser: FormClient) -> FormClient:
    """Another browser with the same cookies (the same session: what it does to its signed-in
    session, on the server, it does to the original's too)."""
    twin = FormClient(browser.app)
    name = browser.app.config["SESSION_COOKIE_NAME"]
    cookie = browser.http.get_cookie(name)
    if cookie is not None:
        twin.http.set_cookie(name, cookie.value)
    return twin


def _answer(response) -> str:
    location = response.headers.get("Location")
    return f"{response.status_code} -> {location}" if location else str(response.status_code)


def _matches(expected, response) -> bool:
    if isinstance(expected, int):
        return response.status_code == expected
    status, target = expected
    location = (response.headers.get("Location") or "").removeprefix("http://localhost")
    return response.status_code == status and location.startswith(target)


# ---------------------------------------------------------------- the tests


def test_every_route_gives_every_role_the_right_answer(app, db, make_user):
    ids = arrange(app, db, make_user)
    browsers = people(app, db, ids)
    tokens = {role: browser.csrf_token("/") for role, browser in browsers.items()}
    wrong = []
    for entry in MATRIX:
        url = entry.url.format(**ids)
        for role in ROLES:
            browser = copy_of(browsers[role]) if entry.fresh else browsers[role]
            if entry.method == "GET":
                response = browser.get(url)
            else:
                response = browser.post(url, data={**entry.data, "csrf_token": tokens[role]})
            response.close()  # files (photos) are streamed: let go of them
            expected = entry.expect[role]
            if not isinstance(expected, int):
                expected = (expected[0], expected[1].format(**ids))
            if not _matches(expected, response):
                want = expected if isinstance(expected, int) else f"{expected[0]} -> {expected[1]}"
                wrong.append(
                    f"{entry.endpoint} {entry.method} {url} as {role}: expected {want}, got {_answer(response)}"
                )
        if entry.fresh and entry.endpoint.startswith("accounts."):
            # Signing out ends the session on the server, the copy's and the original's alike
            # ("everywhere": every session of the account): sign everyone in again.
            browsers.update(signed_in_browsers(app))
            tokens.update({role: browser.csrf_token("/") for role, browser in browsers.items()})
    cells = len(MATRIX) * len(ROLES)
    assert not wrong, f"{len(wrong)} of {cells} cells give the wrong answer:\n" + "\n".join(wrong)


class _AnyId(dict):
    def __missing__(self, key):
        return "1"


def test_every_route_of_the_app_is_in_the_matrix(app):
    """Each (endpoint, method) of the app, and each URL rule, has a row; each row names
    the endpoint its URL really reaches, and has an answer for every role."""
    adapter = app.url_map.bind("localhost")
    problems, declared, reached = [], set(), set()
    for entry in MATRIX:
        if set(entry.expect) != set(ROLES):
            problems.append(
                f"{entry.endpoint} {entry.method} {entry.url}: roles {sorted(set(ROLES) ^ set(entry.expect))}"
            )
        path = entry.url.format_map(_AnyId()).partition("?")[0]
        try:
            rule, _args = adapter.match(path, method=entry.method, return_rule=True)
        except MethodNotAllowed:
            if set(entry.expect.values()) != {405}:
                problems.append(f"{entry.endpoint} {entry.method} {entry.url}: the app has no such method there")
            continue
        except NotFound:
            problems.append(f"{entry.endpoint} {entry.method} {entry.url}: no route matches")
            continue
        if rule.endpoint != entry.endpoint:
            problems.append(f"{entry.endpoint} {entry.method} {entry.url}: the URL reaches {rule.endpoint}")
        declared.add((entry.endpoint, entry.method))
        reached.add((rule.rule, entry.method))
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) not in declared:
                missing.append(f"{rule.endpoint} {method} ({rule.rule})")
            elif (rule.rule, method) not in reached:
                missing.append(f"{rule.endpoint} {method}: no row uses the URL rule {rule.rule}")
    assert not missing, "routes missing from the access matrix (add a row for each):\n" + "\n".join(missing)
    assert not problems, "rows of the access matrix that are wrong:\n" + "\n".join(problems)
