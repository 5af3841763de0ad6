"""What the privacy notice and the accessibility statement say, filled from the settings.

The retention periods are here and nowhere else on the site: each says what the code
named beside it does (docs/operating.md's "Retention" tells operators the same). The known
accessibility problems are here too, so the statement lists what we know, honestly.
"""

from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l

LAWFUL_BASES = {
    "public_task": _l(
        "Public task (UK GDPR Article 6(1)(e)): %(organisation)s runs participatory budgeting as part of its "
        "functions in the public interest."
    ),
    "legitimate_interests": _l(
        "Legitimate interests (UK GDPR Article 6(1)(f)): letting local people decide how money is "
        "spent, fairly and checkably. You can object (see your rights below)."
    ),
    "consent": _l("Consent (UK GDPR Article 6(1)(a)): you can withdraw it at any time by writing to us."),
}
CONSENT = LAWFUL_BASES["consent"]
# Special category data (UK GDPR Article 9): the optional equality-monitoring answers (pb.equality).
EQUALITY_BASIS = _l(
    "Explicit consent (UK GDPR Articles 6(1)(a) and 9(2)(a)): you choose whether to answer, and may skip any "
    "question; and the substantial public interest in equality of opportunity or treatment (Article 9(2)(g) and "
    "the Data Protection Act 2018, Schedule 1, paragraph 8). Your answers are added to counts at once, with nothing "
    "that says which are yours, so they cannot be found or withdrawn afterwards."
)


def purposes() -> list[tuple[str, str, str]]:
    """(why we use it, what we use, the lawful basis), for the privacy notice."""
    config = current_app.config
    basis = str(LAWFUL_BASES[config["LAWFUL_BASIS"]]) % {"organisation": config["ORGANISATION_NAME"]}
    return [
        (
            _l("Letting people run rounds, propose projects, screen them and report on them"),
            _l(
                "Your name, email address and a one-way hash of your password; the organisations you belong to; what you do, "
                "in the round's public audit log"
            ),
            basis,
        ),
        (
            _l("Checking that each resident votes once, in the right area"),
            _l(
                "The voting code on your letter, or your email address or mobile number and postcode, or the details you "
                "declare (such as name, first line of the address, postcode, year of birth), depending on what the round allows"
            ),
            basis,
        ),
        (
            _l("Letting residents ask the groups about their proposals before the vote"),
            _l(
                "Your question and the name you choose to show (both public), and either your account or, until you "
                "confirm the question, your email address; after that only a keyed hash of it, to limit how many "
                "questions one person asks"
            ),
            basis,
        ),
        (
            _l("Sending one-time codes, sign-up and password links and receipts"),
            _l("Your email address, or your mobile number for a code sent by text message"),
            basis,
        ),
        (
            _l("Keeping the site working and secure"),
            _l(
                "Server logs (page, time, status, and your network address with its last part masked); counts of attempts at "
                "passwords and codes, kept as keyed hashes that name nobody"
            ),
            basis,
        ),
        (
            _l(
                "Seeing who takes part, as public bodies must (the Public Sector Equality Duty), in rounds that ask: "
                "optional questions after you vote"
            ),
            _l(
                "Your answers, if you give them, about your age band, any long-term health problem or disability, and "
                "your ethnic group (special category data). They are counted apart from your ballot and cannot be "
                "linked to it or to you"
            ),
            str(EQUALITY_BASIS),
        ),
        (
            _l(
                "Telling you about a round when you ask us to (such as when voting opens or results are out), where offered"
            ),
            _l("Your email address"),
            str(CONSENT),
        ),
    ]


def retention() -> list[tuple[str, str]]:
    """(what, how long we keep it): the periods the code keeps, in one list."""
    config = current_app.config
    hours = config["PERMANENT_SESSION_LIFETIME"] // 3600
    return [
        # pb.voting.services.forget_email_addresses, at publication (pb.lifecycle)
        (_l("Residents' email addresses given to vote"), _l("Deleted when the round's results are published.")),
        # the same, for a code sent by text message (pb.voting: one challenge table for both)
        (
            _l("Residents' mobile numbers given to vote by text message"),
            _l("Deleted when the round's results are published."),
        ),
        # pb.notices: deleted when the resident stops the news, and at archiving
        (
            _l("Email addresses given to hear a round's news"),
            _l(
                "Kept only once you confirm them; deleted when you stop the news (a link in every message) or when the "
                "round is archived. Never linked to a vote."
            ),
        ),
        # pb.voting.services.forget_declarations
        (_l("Details residents declare to vote"), _l("Deleted when the round's results are published.")),
        # pb.voting.services.forget_codes_of_voters
        (
            _l("The link between a voting code and the ballot cast with it"),
            _l("Cut when the round's results are published."),
        ),
        # pb.voting.services.forget_voting_sessions
        (_l("Residents' voting sessions"), _l("Deleted when you finish voting, or when the results are published.")),
        # pb.delivery.verdicts
        (
            _l("Email addresses given to say whether a project was delivered"),
            _l(
                "Deleted once the address is proved, unproved ones after 10 minutes, and all when the round is archived."
            ),
        ),
        # pb.questions.services: the challenge deleted when the question is confirmed
        (
            _l("Email addresses given to confirm a question on a proposal"),
            _l(
                "Deleted once the question is confirmed, unconfirmed ones after 10 minutes or when voting opens. The "
                "question and the name you chose to show are public."
            ),
        ),
        # pb.mail: delivered rows deleted; given up after two days
        (
            _l("Email and text messages we send (which can hold one-time codes and receipts)"),
            _l("Deleted as soon as it is delivered, or after two days if it cannot be."),
        ),
        # pb.rounds.help: what the convening lead publishes, kept as the round's public record
        (
            _l("Organisers' contact details given for a round"),
            _l(
                "Shown publicly while the round runs and kept for good in its public audit log: give a team's address and "
                "phone number rather than a person's own."
            ),
        ),
        # pb.accounts.services: sessions past PERMANENT_SESSION_LIFETIME
        (
            _l("Signed-in sessions"),
            _l("End when you sign out, change your password, or after %(hours)d hours.", hours=hours),
        ),
        # pb.throttle._longest_window
        (
            _l("Counts of attempts at passwords and codes"),
            _l("Deleted after an hour (or the sign-in window, if longer)."),
        ),
        (_l("Server logs"), _l("Kept for %(days)d days, then deleted.", days=config["LOG_RETENTION_DAYS"])),
        (
            _l("Accounts of people who run rounds or propose projects"),
            _l("Kept until you ask us to delete your account (write to us: the site has no button for it yet)."),
        ),
        (
            _l("Community groups' contact details, and invitations to join a group"),
            _l("Kept until you ask us to delete them."),
        ),
        (_l("Ballots"), _l("Kept for good and published, with nothing that identifies the voter.")),
        # pb.equality.services: counters only; forget_who_answered when voting closes (pb.lifecycle)
        (
            _l("Answers to the optional equality-monitoring questions"),
            _l(
                "Added at once to counts that say nothing of who answered: kept for good, and published with the "
                "results with any number under 10 hidden. The record of which voters answered (so that nobody is "
                "counted twice), without their answers, is deleted when voting closes."
            ),
        ),
        # pb.voting.services: keyed hashes kept at publication so that only voters give verdicts
        (
            _l(
                "In rounds where residents voted by email: a keyed hash of each address that voted, not linked to any ballot"
            ),
            _l(
                "Kept for good, so that only residents can say whether projects were delivered. Whoever holds the database "
                "could test whether a given address voted by email in that round."
            ),
        ),
        (
            _l("Proposals, screening decisions, delivery updates and photos, and the audit log"),
            _l("Kept for good as the public record of the round."),
        ),
    ]


def processors() -> list[tuple[str, str]]:
    """(who, what for): those who handle personal data on our behalf."""
    config = current_app.config
    return [
        (config["HOSTING_PROVIDER"], _l("hosts the servers and the database")),
        (config["MAIL_PROVIDER"], _l("delivers the email we send")),
    ] + (
        [(_l("GOV.UK Notify (the Government Digital Service)"), _l("delivers our text messages and email"))]
        if config.get("NOTIFY_API_KEY")
        else []
    )


def known_accessibility_problems() -> list[tuple[str, str]]:
    """(what does not work, the WCAG 2.2 success criterion it fails), as far as we know."""
    hours = current_app.config["WTF_CSRF_TIME_LIMIT"] // 3600
    session_hours = current_app.config["PERMANENT_SESSION_LIFETIME"] // 3600
    return [
        (
            _l(
                "A form left open for more than %(hours)d hours no longer works and has to be filled in again, and you are "
                "signed out after %(session)d hours. You are not warned first and cannot ask for more time.",
                hours=hours,
                session=session_hours,
            ),
            _l("2.2.1 Timing adjustable"),
        ),
        (
            _l(
                "Photos that community groups upload with proposals and delivery updates have a general description "
                "(such as “Photo for” the project's name), not one of what the photo shows."
            ),
            _l("1.1.1 Non-text content"),
        ),
        (
            _l(
                "Organisers' contact details, questions and answers are shown in the language they were written in, "
                "without saying which language that is, so a screen reader may read them in the wrong voice."
            ),
            _l("3.1.2 Language of parts"),
        ),
    ]


def tested_on() -> date:
    return date.fromisoformat(str(current_app.config["ACCESSIBILITY_TESTED_ON"]))
