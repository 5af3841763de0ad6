"""The `pb` command: Flask's own commands (run, shell, routes) and ours."""

from typing import ClassVar

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext


def _create_app():
    from pb import create_app

    return create_app()


class PbGroup(FlaskGroup):
    """Loads `pb tally` and `pb verify` without the web app, so they start fast."""

    LIBRARY_COMMANDS: ClassVar[dict[str, str]] = {"tally": "tally_command", "verify": "verify_command"}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.LIBRARY_COMMANDS))

    def get_command(self, ctx, name):
        if name in self.LIBRARY_COMMANDS:
            from pb.tally import cli as tally_cli

            return getattr(tally_cli, self.LIBRARY_COMMANDS[name])
        return super().get_command(ctx, name)


@click.group(cls=PbGroup, create_app=_create_app, load_dotenv=False)
def main():
    """pb: participatory budgeting that local people control and anyone can check."""


@main.group()
def db():
    """The database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade():
    """Create or migrate the database to the latest schema."""
    from pb.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"])
    click.echo("database is up to date")


@db.command("current")
@with_appcontext
def db_current():
    """Show the database's schema revision and the code's; exit status 1 if they differ."""
    from pb.db import get_engine
    from pb.migrate import code_head, database_revision, schema_problem

    engine = get_engine()
    click.echo(f"database: {database_revision(engine) or '(no schema)'}")
    click.echo(f"code:     {code_head()}")
    problem = schema_problem(engine)
    if problem:
        raise click.ClickException(problem)
    click.echo("the database is at the code's head")


@db.command("history")
def db_history():
    """List the migrations this version of pb knows, newest first."""
    from pb.migrate import scripts

    for script in scripts().walk_revisions():
        click.echo(f"{script.revision}  {script.doc.splitlines()[0] if script.doc else ''}".rstrip())


@db.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def db_downgrade(revision, yes):
    """Migrate the database back to REVISION (from `pb db history`), to roll back an
    upgrade. Later migrations' data may be lost: take a backup first."""
    from pb.migrate import downgrade, known_revision

    if not known_revision(revision):
        raise click.BadParameter(
            f"{revision!r} is not a revision this pb knows (see `pb db history`)", param_hint="REVISION"
        )
    if not yes:
        click.confirm(f"Migrate the database back to {revision}? Data only later versions keep may be lost", abort=True)
    downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database is at {revision}")


@db.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message):
    """(Developers) write a migration for model changes."""
    from pb.migrate import make_revision

    make_revision(current_app.config["DATABASE_URL"], message)


@main.group("user")
def user_group():
    """Accounts."""


@user_group.command("create")
@click.argument("email")
@click.option("--name", prompt="Name", help="The person's name, as others see it.")
@click.option("--admin", is_flag=True, help="A platform administrator (the first one is made this way).")
@click.option("--link", is_flag=True, help="Print a one-time link to choose a password, instead of asking for one.")
@with_appcontext
def user_create(email, name, admin, link):
    """Create an account for EMAIL. Without --link, asks for its password twice."""
    import secrets

    from email_validator import EmailNotValidError, validate_email

    from pb.accounts import services
    from pb.accounts.passwords import weakness
    from pb.db import session_scope
    from pb.links import public_url

    try:
        validate_email(email, check_deliverability=False)  # as the site's forms check it
    except EmailNotValidError as error:
        raise click.BadParameter(str(error), param_hint="EMAIL") from None
    if not name.strip() or len(name) > 120:
        raise click.BadParameter("give a name of 1 to 120 characters", param_hint="--name")
    if link:
        password = secrets.token_urlsafe(32)  # never told to anyone: the link replaces it
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with current_app.test_request_context():  # messages in the default language; links from PB_BASE_URL
        problem = None if link else weakness(password, about=[email, name])
        if problem:
            raise click.ClickException(problem)
        with session_scope() as session:
            try:
                user = services.create_user(session, email=email, name=name, password=password, is_platform_admin=admin)
            except services.AccountError as error:
                raise click.ClickException(str(error)) from None
            url = public_url("accounts.reset_password", token=services.password_reset_token(user)) if link else None
    click.echo(f"created {'platform admin' if admin else 'account'} {services.normalise_email(email)}")
    if url:
        click.echo(f"to choose a password, open within an hour: {url}")


@main.command()
@click.option("--if-empty", is_flag=True, help="Do nothing if the database already has organisations.")
@with_appcontext
def demo(if_empty):
    """Load a realistic demo: anchors, community groups and a user for each role."""
    from pb.demo import load_demo

    load_demo(if_empty=if_empty)


@main.command("demo-codes")
@with_appcontext
def demo_codes():
    """Show the demo's voting codes again, marking those already used."""
    from pb.demo import show_codes

    show_codes()


@main.group("rounds")
def rounds_group():
    """Rounds and their timelines."""


@rounds_group.command("advance")
@with_appcontext
def rounds_advance():
    """Make every move a round's published timeline says is due (open voting, close and
    count it, publish results). Run it every minute from cron or a systemd timer."""
    from pb.lifecycle import advance_due_rounds

    for round_id, moves in advance_due_rounds().items():
        click.echo(
            f"round {round_id}: " + (", ".join(moves) if moves else "due, but cannot move yet (see its manage page)")
        )


@main.command("scrub")
@with_appcontext
def scrub_command():
    """Wipe from the database's files what publishing results deleted (the old versions of
    its rows: addresses, declarations, codes' uses), when the scrub at publication could not
    finish (its log line says so). Exit 1 if it still cannot."""
    from pb.db import get_engine, scrub
    from pb.lifecycle import FORGOTTEN_AT_PUBLICATION

    if not scrub(get_engine(), FORGOTTEN_AT_PUBLICATION):
        raise click.ClickException("the scrub could not finish: see the log line above, and try again later")
    click.echo("scrubbed: " + ", ".join(sorted(FORGOTTEN_AT_PUBLICATION)))


@main.command("mail-deliver")
@with_appcontext
def mail_deliver():
    """Send the mail waiting in the outbox that is due (new, or due to be tried again)."""
    from pb.mail import deliver_pending

    click.echo(f"{deliver_pending()} messages delivered")


@main.command("worker")
@click.option("--every", default=30, show_default=True, help="Seconds between passes.")
@with_appcontext
def worker(every):
    """Run for ever: move rounds on by their timelines, deliver mail and delete rate-limit
    rows past their window, every EVERY seconds (a systemd service instead of the two cron jobs)."""
    import time

    from pb.db import session_scope
    from pb.lifecycle import advance_due_rounds
    from pb.mail import deliver_pending
    from pb.throttle import purge_expired

    while True:
        for round_id, moves in advance_due_rounds().items():
            click.echo(f"round {round_id}: " + ", ".join(moves))
        deliver_pending()
        with session_scope() as session:
            purge_expired(session)
        time.sleep(every)


@main.group()
def audit():
    """The tamper-evident audit log."""


def _head(text: str) -> tuple[int, str]:
    seq, _, hash_ = text.partition(":")
    if not seq.isdigit() or len(hash_) != 64:
        raise click.BadParameter("give a head as SEQ:HASH (a number, a colon and 64 hex digits)")
    return int(seq), hash_.lower()


@audit.command("verify")
@click.argument("chain", required=False)
@click.option(
    "--since",
    "heads",
    multiple=True,
    metavar="SEQ:HASH",
    help="A head of the chain given earlier (witnessed): the chain must still hold it. Needs CHAIN.",
)
@with_appcontext
def audit_verify(chain, heads):
    """Check a round's audit chain (ROUND is a round id, or 'platform'); all chains if omitted.
    For a counted round, also recount its stored ballot files and compare them and its receipts lists with
    the count's event, check the counted files and the database against the terms recorded as voting opened and
    the turnout and code figures against those the count sealed, and name every ballot left out of the count with
    no later ballot of its voter counted."""
    from sqlmodel import select

    from pb.audit.chain import all_chains, extends
    from pb.audit.models import PLATFORM_CHAIN, WitnessedHead, chain_key
    from pb.db import session_scope
    from pb.rounds.models import Round
    from pb.verify.chain import verify_chain
    from pb.verify.results_check import check_results

    heads = [_head(text) for text in heads]
    if heads and chain is None:
        raise click.UsageError("--since needs the CHAIN it is a head of")
    with session_scope(write=False) as session:
        if chain is None:
            chains = all_chains(session)
        elif chain == PLATFORM_CHAIN:
            chains = [PLATFORM_CHAIN]
        elif chain.isdigit():
            chains = [chain_key(int(chain))]
        else:
            raise click.UsageError("ROUND is a round number or 'platform'")
        failed = False
        for key in chains:
            result = verify_chain(session, key)
            if result.ok:
                click.echo(f"{key}: ok, {result.events} events, head {result.head_hash}")
            else:
                failed = True
                click.echo(f"{key}: BROKEN at event {result.bad_seq}: {result.problem}")
            # The heads given (kept by a witness) and those stored as sent to the witnesses
            # (whoever controls this database controls those, so the given count more).
            stored = [
                (w.seq, w.hash, False) for w in session.exec(select(WitnessedHead).where(WitnessedHead.chain == key))
            ]
            for seq, hash_, given in [(seq, hash_, True) for seq, hash_ in heads] + stored:
                if not extends(session, key, seq, hash_):
                    failed = True
                    whose = f"the one witnessed ({hash_[:12]}...)" if given else "the one sent to the witnesses"
                    click.echo(f"{key}: BROKEN: event {seq} is not {whose}: rewritten or cut")
                elif given:
                    click.echo(f"{key}: holds event {seq} as witnessed")
            round_ = session.get(Round, int(key.split(":")[1])) if key.startswith("round:") else None
            for problem in check_results(session, round_) if round_ is not None else []:
                failed = True
                click.echo(f"{key}: RESULTS DO NOT AGREE: {problem}")
    raise SystemExit(1 if failed else 0)


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(file):
    """Copy the SQLite database to FILE while the app keeps running (PostgreSQL: pg_dump)."""
    from pb.backup import BackupError, backup

    try:
        revision = backup(current_app.config["DATABASE_URL"], file)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up to {file} (schema {revision})")


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--because", default="", help="Why, when the backup is older than ballots residents were given receipts for."
)
@with_appcontext
def restore_command(file, yes, because):
    """Replace the SQLite database with the backup FILE, then bring its schema up to date.
    Stop the app first. (PostgreSQL: pg_restore.) The restore is recorded in the platform's
    audit log with the backup's time; a backup that would lose ballots already cast (and
    receipted) is refused unless --because says why."""
    import os

    from pb.audit.chain import record_event
    from pb.backup import (
        BackupError,
        ballot_facts,
        check_backup,
        check_known_schema,
        restore,
        sqlite_file,
    )
    from pb.db import session_scope
    from pb.migrate import upgrade

    url = current_app.config["DATABASE_URL"]
    because = because.strip()
    try:
        live_path = sqlite_file(url)
        check_known_schema(check_backup(file))
        backup_receipts, backup_time = ballot_facts(file)
        live_receipts, _live_time = ballot_facts(live_path) if os.path.exists(live_path) else (set(), None)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    lost = len(live_receipts - backup_receipts)  # ballots residents hold receipts for that the backup lacks
    if lost and not because:
        raise click.ClickException(
            f"{file} lacks {lost} ballots cast since (older than ballots cast since): residents were given receipts "
            'for them. If it must be restored all the same, say why with --because "..."; the restore and the '
            "reason go into the audit log."
        )
    if not yes:
        click.confirm(f"Replace everything in the database with {file}?", abort=True)
    try:
        revision = restore(url, file)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    current_app.extensions["pb_engine"].dispose()
    upgrade(url)
    with session_scope() as session:
        record_event(
            session,
            "platform.restored",
            data={
                "backup": os.path.basename(file),
                "backup_time": backup_time,
                "ballots_in_backup": len(backup_receipts),
                "ballots_lost": lost,
                "because": because or None,
            },
        )
    click.echo(f"restored {file} (schema {revision}, its newest event at {backup_time}); database is up to date")
    if lost:
        click.echo(f"{lost} ballots cast after the backup are gone; the restore is recorded in the audit log")
