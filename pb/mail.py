"""Outgoing mail and text messages, kept in an outbox table until they are delivered.

`send_mail` (and `send_sms`, for a text message) adds the message to `outgoing_mail` in
the action's own transaction: an action that rolls back sends nothing, and a committed
action's message is never lost. Once that transaction commits, this process delivers at
once: through GOV.UK Notify (NOTIFY_API_KEY) or an SMTP server (MAIL_SERVER), in a
background thread, so no response waits for them; without either (development, tests;
production refuses to start without one), there and then, by keeping the message in
`outbox()` (the latest OUTBOX_KEEPS, shown at /dev/outbox) and, in development, printing
it to the console. Text messages need Notify: without it they are kept in the outbox in
development, and cannot be asked for in production (`text_messages_available`). A
message's address, number or body is never written to the log.

`deliver_pending` does the delivering, and is what a worker runs to retry what failed:
- it claims due messages by moving their next attempt a lease ahead, and commits that
  before talking to SMTP or Notify, so no transaction stays open meanwhile and a second
  deliverer passes them by (on PostgreSQL rows are claimed FOR UPDATE SKIP LOCKED; SQLite's
  writers take turns). A deliverer that dies mid-send leaves its messages to be tried
  again when the lease ends: a message may then arrive twice, never not at all;
- a delivered message's row is deleted: bodies hold one-time codes and receipt codes;
- a failed one is tried again after 1, 2, 4 ... minutes, at most an hour apart;
- one still failing two days after it was written is given up: its row is deleted too
  (for the same reason) and a warning is logged with its subject and last error;
- one Notify refuses as such (400: not a mobile number, say) is given up at once, the
  same way: asking again would get the same answer. Notify being down or unreachable
  (5xx, no connection), limiting pb (429) or refusing its key (403) is a failure like
  any other: the message waits and is tried again.
"""

import logging
import smtplib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app, has_app_context
from sqlalchemy import Column, Text, delete, event, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from pb.clock import now
from pb.db import db_session, get_engine, session_scope

LEASE = timedelta(minutes=15)  # far longer than a batch takes to send
GIVE_UP_AFTER = timedelta(days=2)
_ADDED, _COMMITTED = "pb_mail_added", "pb_mail_committed"  # keys in Session.info
# The server answered "no" to this message; other messages may still go on the connection.
_REFUSED = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused, smtplib.SMTPNotSupportedError)
EMAIL, SMS = "email", "sms"  # OutgoingMail.channel
# Notify's client logs each failed request itself, outside pb's format and redaction; pb
# logs what matters (a message given up) itself.
logging.getLogger("notifications_python_client").setLevel(logging.CRITICAL)


class OutgoingMail(SQLModel, table=True):
    """A message waiting to be delivered (deleted once it is)."""

    __tablename__ = "outgoing_mail"

    id: int = Field(default=None, primary_key=True)
    # "email" (to an address) or "sms" (a text message to a mobile number in E.164, +447700900123)
    channel: str = Field(default="email", max_length=5, sa_column_kwargs={"server_default": "email"})
    recipient: str = Field(max_length=254)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=now)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=now, index=True)
    last_error: str | None = Field(default=None, max_length=500)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    channel: str = EMAIL  # or SMS: a text message (no subject)


OUTBOX_KEEPS = 200


class Outbox(list):
    """The messages "delivered" without a mail server, newest last; only the latest
    OUTBOX_KEEPS are kept, so a long-running development server does not grow for ever."""

    def append(self, mail) -> None:
        super().append(mail)
        del self[:-OUTBOX_KEEPS]


def configure_mail(app) -> None:
    app.extensions["pb_outbox"] = Outbox()
    app.extensions["pb_courier"] = Courier()


def outbox() -> list[Mail]:
    """Every message "delivered" by this process with nothing configured to send it."""
    return current_app.extensions["pb_outbox"]


def sends_for_real(config) -> bool:
    """Whether messages leave this machine (through SMTP or GOV.UK Notify)."""
    return bool(config.get("MAIL_SERVER") or config.get("NOTIFY_API_KEY"))


def texts_by_notify(config) -> bool:
    """Whether text messages leave this machine: through GOV.UK Notify, with a template for them."""
    return bool(config.get("NOTIFY_API_KEY") and config.get("NOTIFY_SMS_TEMPLATE_ID"))


def keeps_an_outbox(config) -> bool:
    """Whether some messages stay on this machine, in `outbox()`: development with no way
    to send email, or none to send text messages."""
    return config.get("ENV", "development") != "production" and not (sends_for_real(config) and texts_by_notify(config))


def text_messages_available(config) -> bool:
    """Whether text messages can be sent: through GOV.UK Notify with a template for them,
    or, in development, into the outbox (where a developer reads them)."""
    return texts_by_notify(config) or config.get("ENV", "development") != "production"


def send_mail(to: str, subject: str, body: str, *, session: Session | None = None) -> None:
    """Send a message if, and when, the transaction of `session` (by default the
    request's) commits."""
    _add(OutgoingMail(channel=EMAIL, recipient=to, subject=str(subject), body=str(body)), session)


def send_sms(to: str, body: str, *, session: Session | None = None) -> None:
    """Send a text message to a mobile number (in E.164, +447700900123) if, and when, the
    transaction of `session` (by default the request's) commits. Keep it short: one text
    message is 160 characters (70 with letters outside GSM's alphabet), and each costs."""
    _add(OutgoingMail(channel=SMS, recipient=to, subject="", body=str(body)), session)


def _add(row: OutgoingMail, session: Session | None) -> None:
    session = db_session() if session is None else session
    session.add(row)
    session.info[_ADDED] = True


@event.listens_for(Session, "after_commit")
def _note_commit(session):
    if session.info.get(_ADDED) and not session.in_nested_transaction():
        session.info[_COMMITTED] = True


@event.listens_for(Session, "after_transaction_end")
def _deliver_after_commit(session, transaction):
    # Here, unlike in after_commit, the session has given back its connection (and on
    # SQLite its place in the writers' queue), so delivering may use the database.
    if transaction.parent is not None:
        return
    session.info.pop(_ADDED, None)
    if not session.info.pop(_COMMITTED, False) or not has_app_context():
        return  # without an app, the worker delivers
    # The app itself, not the proxy: the courier's thread uses it outside this context.
    # (current_app is typed as the Flask it stands for, so the proxy's own method is unknown.)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if sends_for_real(app.config):
        app.extensions["pb_courier"].nudge(app, session.get_bind())
        return
    try:
        deliver_pending(session.get_bind())
    except Exception:  # the action is committed whatever happens here; the worker retries
        app.logger.exception("mail not delivered yet")


class Courier:
    """Delivers in a background thread, one at a time per process. A nudge while it is
    busy makes it go round once more, so it never misses a message just committed."""

    def __init__(self):
        self._lock = threading.Lock()
        self._busy = self._again = False
        self.idle = threading.Event()
        self.idle.set()

    def nudge(self, app, engine: Engine) -> None:
        with self._lock:
            if self._busy:
                self._again = True
                return
            self._busy = True
            self.idle.clear()
        threading.Thread(target=self._run, args=(app, engine), name="pb-mail", daemon=True).start()

    def _run(self, app, engine: Engine) -> None:
        with app.app_context():
            while True:
                try:
                    deliver_pending(engine)
                except Exception:
                    app.logger.exception("mail not delivered yet")
                with self._lock:
                    if not self._again:
                        self._busy = False
                        self.idle.set()
                        return
                    self._again = False


def deliver_pending(session_or_engine: Session | Engine | None = None, *, limit: int = 100) -> int:
    """Deliver up to `limit` messages that are due; returns how many were delivered.

    Needs an app context (for the mail settings). Works in short transactions of its
    own on the engine (a session given stands for its engine and is left alone), so it
    must not be called while this thread holds a write transaction on SQLite."""
    if isinstance(session_or_engine, Session):
        bind = session_or_engine.get_bind()
        assert isinstance(bind, Engine), "pb's sessions are bound to its engine"
        session_or_engine = bind
    engine = session_or_engine or get_engine()
    claimed = _claim(engine, limit)
    if not claimed:
        return 0
    sent, failed, refused = _send(claimed)
    _settle(engine, claimed, sent, failed, refused)
    return len(sent)


def _claim(engine: Engine, limit: int) -> list[OutgoingMail]:
    with session_scope(engine) as session:
        query = (
            select(OutgoingMail)
            .where(OutgoingMail.next_attempt_at <= now())
            .order_by(col(OutgoingMail.next_attempt_at), col(OutgoingMail.id))
            .limit(limit)
        )
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.exec(query).all()
        for row in rows:
            row.next_attempt_at = now() + LEASE
            session.add(row)
    return rows


def _send(rows: list[OutgoingMail]) -> tuple[list[int], dict[int, str], dict[int, str]]:
    """Returns the ids sent, the ids not sent with why (to try again), and the ids refused
    for good with why."""
    config = current_app.config
    ways: dict[str, list[OutgoingMail]] = {}
    for row in rows:
        ways.setdefault(_way(row, config), []).append(row)
    sent: list[int] = []
    failed: dict[int, str] = {}
    refused: dict[int, str] = {}
    for way, batch in ways.items():
        if way == "notify":
            _by_notify(batch, config, sent, failed, refused)
        elif way == "smtp":
            _by_smtp(batch, config, sent, failed)
        elif way == "outbox":
            _into_outbox(batch, config, sent)
        else:
            for row in batch:
                failed[row.id] = "no way to send text messages: set PB_NOTIFY_API_KEY and PB_NOTIFY_SMS_TEMPLATE_ID"
    return sent, failed, refused


def _way(row: OutgoingMail, config) -> str:
    """How a message goes: "notify", "smtp", "outbox" (nothing set up: development), or
    "none" (a text message in production without Notify)."""
    if row.channel == SMS:
        if texts_by_notify(config):
            return "notify"
        return "none" if config.get("ENV") == "production" else "outbox"
    if config.get("NOTIFY_API_KEY"):
        return "notify"
    return "smtp" if config.get("MAIL_SERVER") else "outbox"


def _into_outbox(rows: list[OutgoingMail], config, sent: list[int]) -> None:
    for row in rows:
        outbox().append(Mail(to=row.recipient, subject=row.subject, body=row.body, channel=row.channel))
        if not config.get("TESTING"):  # on the developer's console, not in the log
            what = (
                f"text message to {row.recipient}" if row.channel == SMS else f"mail to {row.recipient}: {row.subject}"
            )
            print(f"--- {what}\n{row.body}\n---", flush=True)
        sent.append(row.id)


def _by_notify(
    rows: list[OutgoingMail], config, sent: list[int], failed: dict[int, str], refused: dict[int, str]
) -> None:
    """Through GOV.UK Notify's API, one request per message (its official client)."""
    from notifications_python_client.errors import APIError
    from notifications_python_client.notifications import NotificationsAPIClient

    client = NotificationsAPIClient(
        config["NOTIFY_API_KEY"], base_url=config["NOTIFY_BASE_URL"], timeout=config["MAIL_TIMEOUT"]
    )
    try:
        for number, row in enumerate(rows):
            try:
                if row.channel == SMS:
                    client.send_sms_notification(
                        row.recipient, config["NOTIFY_SMS_TEMPLATE_ID"], personalisation={"body": row.body}
                    )
                else:
                    client.send_email_notification(
                        row.recipient,
                        config["NOTIFY_EMAIL_TEMPLATE_ID"],
                        personalisation={"subject": row.subject, "body": row.body},
                    )
            except APIError as error:
                if error.status_code == 400:  # this message, as it is, will never go
                    refused[row.id] = _describe(error)
                    continue
                for waiting in rows[number:]:  # Notify is down, unreachable, or not taking pb's messages now
                    failed[waiting.id] = _describe(error)
                return
            sent.append(row.id)
    finally:
        client.request_session.close()


def _by_smtp(rows: list[OutgoingMail], config, sent: list[int], failed: dict[int, str]) -> None:
    smtp = None
    try:
        smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"])
        if config.get("MAIL_USE_TLS"):
            import ssl

            # The server's certificate is checked (starttls() without a context checks nothing):
            # reset links, one-time codes and witnessed heads travel in these messages.
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        for row in rows:
            try:
                smtp.send_message(_email(row, config["MAIL_SENDER"]))
            except Exception as error:
                if isinstance(error, OSError) and not isinstance(error, _REFUSED):
                    raise  # the connection is lost
                failed[row.id] = _describe(error)
            else:
                sent.append(row.id)
        smtp.quit()
    except OSError as error:  # unreachable, refused, timed out or cut off: the rest wait
        for row in rows:
            if row.id not in sent and row.id not in failed:
                failed[row.id] = _describe(error)
    finally:
        if smtp is not None:
            smtp.close()


def _email(row: OutgoingMail, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = row.recipient
    email["Subject"] = row.subject
    email.set_content(row.body)
    return email


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** (min(attempts, 7) - 1), 60))  # 1, 2, 4 ... 32, 60


def _settle(
    engine: Engine, rows: list[OutgoingMail], sent: list[int], failed: dict[int, str], refused: dict[int, str]
) -> None:
    with session_scope(engine) as session:
        if sent:
            session.exec(delete(OutgoingMail).where(col(OutgoingMail.id).in_(sent)))
        for row in rows:
            what = "text message" if row.channel == SMS else "mail"
            if row.id in refused:
                session.exec(delete(OutgoingMail).where(col(OutgoingMail.id) == row.id))
                current_app.logger.warning(
                    "%s %s given up, refused by GOV.UK Notify: %r; %s", what, row.id, row.subject, refused[row.id]
                )
                continue
            if row.id not in failed:
                continue
            if now() - row.created_at >= GIVE_UP_AFTER:
                session.exec(delete(OutgoingMail).where(col(OutgoingMail.id) == row.id))
                current_app.logger.warning(
                    "%s %s given up after %s attempts since %s: %r; last error: %s",
                    what,
                    row.id,
                    row.attempts + 1,
                    row.created_at.isoformat(),
                    row.subject,
                    failed[row.id],
                )
                continue
            session.exec(
                update(OutgoingMail)
                .where(col(OutgoingMail.id) == row.id)
                .values(
                    attempts=OutgoingMail.attempts + 1,
                    last_error=failed[row.id],
                    next_attempt_at=now() + _retry_delay(row.attempts + 1),
                )
            )
