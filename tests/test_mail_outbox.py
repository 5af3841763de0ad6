"""Mail and text messages go through the outbox table: written with the action, delivered
after the commit (in the background when a mail server or GOV.UK Notify is set), retried,
sent once, and its row deleted.

The servers here are real: aiosmtpd on a loopback port, a stand-in for GOV.UK Notify's
API (tests/notify_server.py) spoken to by Notify's own client, a port where nothing
listens, and a socket that accepts a connection and never answers."""

import email
import email.policy
import re
import socket
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select, update

from pb.clock import now
from pb.mail import OutgoingMail, deliver_pending, send_mail, send_sms
from tests.conftest import FormClient
from tests.notify_server import NotifyServer
from tests.servers import free_port
from tests.test_voting import ballots_in, vote, voting  # noqa: F401 (voting is a fixture)

RESIDENT = "res@example.org"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:`port`, keeping what it receives; `delay` slows each message."""

    def __init__(self, port: int, delay: float = 0):
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.delay = delay
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        import asyncio

        await asyncio.sleep(self.delay)
        self.received.append(
            (envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default))
        )
        return "250 OK"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def bodies_to(self, address: str) -> list[str]:
        return [message.get_content() for to, message in self.received if to == [address]]


class SideBySideSmtpServer(SmtpServer):
    """Holds each message until messages have come on two connections (for at most 5 s, well
    within MAIL_TIMEOUT): two deliverers are then seen at work side by side, however a busy
    machine happens to schedule their threads."""

    def __init__(self, port: int, delay: float = 0):
        super().__init__(port, delay)
        self.peers: set = set()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        import asyncio

        self.peers.add(session.peer)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while len(self.peers) < 2 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


class HangingServer:
    """Accepts connections and never says a word (until it is closed)."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.connections.append(self.listener.accept()[0])
            except OSError:  # closed
                return

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def refused_port():
    """A loopback port where connections are refused: bound, never listening, so that no other
    process (another worker's server) can start listening there meanwhile, as it could on a
    port merely found free. `release()` frees it for a server of the test's own."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    yield SimpleNamespace(port=held.getsockname()[1], release=held.close)
    held.close()


def use_mail_server(app, port: int) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False)


def courier_done(app) -> None:
    """Wait for this process's background delivery to finish."""
    assert app.extensions["pb_courier"].idle.wait(30)


def waiting_mail(db) -> list[OutgoingMail]:
    with db() as session:
        return session.exec(select(OutgoingMail).order_by(OutgoingMail.id)).all()


def make_all_due(db) -> None:
    """As if the time to try again had come."""
    with db() as session:
        session.exec(update(OutgoingMail).values(next_attempt_at=now()))


def ask_for_code(resident, voting):
    start = f"/rounds/{voting['round']}/vote"
    return resident.submit(f"{start}/email", {"email": RESIDENT, "postcode": "LS11 2AB"}, page=start)


def enter_code(resident, voting, code):
    return resident.submit(f"/rounds/{voting['round']}/vote/email/code", {"code": code})


def code_in(body: str) -> str:
    return re.search(r"\b(\d{6})\b", body).group(1)


def test_a_dead_mail_server_fails_no_vote_and_the_mail_goes_when_it_is_back(app, db, voting, refused_port):
    port = refused_port.port  # nothing listens here
    logged = list(app.extensions["pb_outbox"])  # setting the round up (its witnesses' heads), before there was a server
    use_mail_server(app, port)
    resident = FormClient(app)
    assert ask_for_code(resident, voting).status_code == 302
    courier_done(app)
    [code_mail] = waiting_mail(db)
    assert code_mail.recipient == RESIDENT
    assert code_mail.attempts == 1
    assert "ConnectionRefusedError" in code_mail.last_error
    assert code_mail.next_attempt_at > now()
    assert enter_code(resident, voting, code_in(code_mail.body)).status_code == 302

    south = voting["projects"]["South"]
    cast = vote(resident, voting, "South", {f"rank_{south[0]}": "1", f"rank_{south[1]}": "2"})
    assert cast.status_code == 302
    assert cast.headers["Location"].endswith("/vote/receipt")
    [ballot] = ballots_in(db)
    receipt_page = resident.get(cast.headers["Location"]).get_data(as_text=True)
    assert ballot.receipt in receipt_page
    assert "We are also emailing it to you" in receipt_page
    courier_done(app)
    assert [ballot.receipt in m.body for m in waiting_mail(db)] == [False, True]
    assert app.extensions["pb_outbox"] == logged  # with a server set, nothing more is only logged

    make_all_due(db)
    refused_port.release()  # the server is back
    with SmtpServer(port) as server, app.app_context():
        assert deliver_pending(app.extensions["pb_engine"]) == 2
    code_body, receipt_body = server.bodies_to(RESIDENT)
    assert code_in(code_body) == code_in(code_mail.body)
    assert ballot.receipt in receipt_body
    assert waiting_mail(db) == []  # delivered: the codes are not kept


def test_a_mail_server_that_never_answers_does_not_hold_up_the_resident(app, db, voting):
    assert app.config["MAIL_TIMEOUT"] >= 10
    # Here the courier waits longer on the server, so that a request slowed by a busy machine
    # (seconds, in CI) is still plainly not one that waited for it.
    app.config["MAIL_TIMEOUT"] = 60
    resident = FormClient(app)
    with HangingServer() as hanging:
        use_mail_server(app, hanging.port)
        started = time.monotonic()
        assert ask_for_code(resident, voting).status_code == 302
        assert time.monotonic() - started < 20
        assert not app.extensions["pb_courier"].idle.is_set()  # still waiting on the server
        [code_mail] = waiting_mail(db)
        assert enter_code(resident, voting, code_in(code_mail.body)).status_code == 302
        south = voting["projects"]["South"]
        started = time.monotonic()
        cast = vote(resident, voting, "South", {f"rank_{south[0]}": "1"})
        assert cast.status_code == 302
        assert cast.headers["Location"].endswith("/vote/receipt")
        assert time.monotonic() - started < 20
        assert len(ballots_in(db)) == 1
        assert len(waiting_mail(db)) == 2
        assert hanging.connections  # the courier did get through to it
    courier_done(app)  # the server hung up: the courier gives up this try
    assert all(m.attempts >= 1 and m.last_error for m in waiting_mail(db))


@pytest.fixture
def fails_after_mail(app):
    """A view that asks for mail and then fails: by refusing (pb.views.refuse, the way views
    turn an action away), or by an exception."""
    from pb.security import csrf
    from pb.views import refuse

    def view(how):
        send_mail(RESIDENT, "Never sent", "The action that asked for this failed.")
        if how == "raise":
            raise RuntimeError("the action failed")
        refuse(("refused", 409))

    app.add_url_rule("/test/fails-after-mail/<how>", view_func=csrf.exempt(view), methods=["POST"])
    return "/test/fails-after-mail/"


@pytest.mark.own_app  # adds a route
def test_an_action_that_rolls_back_sends_nothing(app, db, fails_after_mail):
    client = app.test_client()
    assert client.post(fails_after_mail + "answer").status_code == 409
    assert client.post(fails_after_mail + "raise").status_code == 500
    with pytest.raises(RuntimeError), db() as session:
        send_mail(RESIDENT, "Never sent", "A job that failed.", session=session)
        raise RuntimeError("the job failed")
    assert app.extensions["pb_outbox"] == []
    assert waiting_mail(db) == []

    port = free_port()
    use_mail_server(app, port)
    with SmtpServer(port) as server:
        assert client.post(fails_after_mail + "answer").status_code == 409
        courier_done(app)
        with app.app_context():
            assert deliver_pending(app.extensions["pb_engine"]) == 0
    assert server.received == []
    assert waiting_mail(db) == []


def test_with_a_server_mail_is_delivered_after_the_commit_without_a_worker(app, db, voting):
    port = free_port()
    use_mail_server(app, port)
    with SmtpServer(port) as server:
        assert ask_for_code(FormClient(app), voting).status_code == 302
        courier_done(app)
    [body] = server.bodies_to(RESIDENT)
    assert code_in(body)
    assert waiting_mail(db) == []


def test_without_a_server_mail_is_logged_in_the_outbox_and_not_kept(app, db, voting):
    assert ask_for_code(FormClient(app), voting).status_code == 302
    [mail] = [m for m in app.extensions["pb_outbox"] if m.to == RESIDENT]
    assert code_in(mail.body)
    assert waiting_mail(db) == []


def test_two_deliverers_at_once_send_each_message_once(app, db):
    port = free_port()
    use_mail_server(app, port)
    addresses = [f"resident{i}@example.org" for i in range(24)]
    with db() as session:  # outside any app: left for the deliverers
        for address in addresses:
            send_mail(address, "Hello", f"A message for {address}", session=session)
    assert len(waiting_mail(db)) == len(addresses)

    start = threading.Barrier(2)
    delivered = []

    def deliverer():
        with app.app_context():
            start.wait()
            count = 0
            while sent := deliver_pending(app.extensions["pb_engine"], limit=3):
                count += sent
            delivered.append(count)

    with SideBySideSmtpServer(port, delay=0.02) as server:
        threads = [threading.Thread(target=deliverer) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads), "still delivering after 60 s"
    assert sorted(to[0] for to, _message in server.received) == sorted(addresses)
    assert sum(delivered) == len(addresses)
    assert min(delivered) > 0  # both worked, side by side
    assert waiting_mail(db) == []


def test_failed_mail_is_tried_again_later_and_given_up_after_two_days(app, db, caplog, refused_port):
    use_mail_server(app, refused_port.port)  # nothing listens there
    with db() as session:
        send_mail(RESIDENT, "Hello", "Your code is 123456", session=session)
    engine = app.extensions["pb_engine"]
    with app.app_context():
        for attempt, minutes in ((1, 1), (2, 2), (3, 4)):
            before = now()
            assert deliver_pending(engine) == 0
            [mail] = waiting_mail(db)
            assert mail.attempts == attempt
            assert "ConnectionRefusedError" in mail.last_error
            assert before + timedelta(minutes=minutes) <= mail.next_attempt_at <= now() + timedelta(minutes=minutes)
            assert deliver_pending(engine) == 0
            assert waiting_mail(db)[0].attempts == attempt  # not due yet
            make_all_due(db)
        with db() as session:
            session.exec(update(OutgoingMail).values(created_at=now() - timedelta(days=2, seconds=1)))
        assert deliver_pending(engine) == 0
    assert waiting_mail(db) == []
    assert "given up after 4 attempts" in caplog.text
    assert "123456" not in caplog.text


# ---------------------------------------------------------------- GOV.UK Notify

MOBILE = "+447700900123"


def test_with_notify_email_and_text_messages_go_through_it_after_the_commit(app, db, voting):
    port = free_port()
    use_mail_server(app, port)  # set too, but Notify's key wins for email
    with NotifyServer() as notify, SmtpServer(port) as smtp:
        app.config.update(notify.config())
        assert ask_for_code(FormClient(app), voting).status_code == 302
        courier_done(app)
        with db() as session:  # a job outside any request: delivered by the worker
            send_sms(MOBILE, "Your code is 654321", session=session)
            send_mail(RESIDENT, "Hello", "A second line\nand a third", session=session)
        with app.app_context():
            assert deliver_pending(app.extensions["pb_engine"]) == 2
    [code_mail, hello] = [n for n in notify.sent if n.kind == "email"]
    assert code_mail.to == RESIDENT
    assert code_mail.subject == "Your code to vote in Greener Eastshire"
    assert code_in(code_mail.body)
    assert (hello.subject, hello.body) == ("Hello", "A second line\nand a third")
    assert notify.texts_to(MOBILE) == ["Your code is 654321"]
    assert smtp.received == []
    assert waiting_mail(db) == []
    assert [m for m in app.extensions["pb_outbox"] if m.to in (RESIDENT, MOBILE)] == []


def test_notify_down_or_unreachable_means_try_again_later(app, db, refused_port):
    with db() as session:
        send_sms(MOBILE, "Your code is 654321", session=session)
        send_mail(RESIDENT, "Hello", "Hi", session=session)
    engine = app.extensions["pb_engine"]
    with NotifyServer() as notify, app.app_context():
        app.config.update(notify.config())
        notify.fail_with = 500
        assert deliver_pending(engine) == 0
        assert notify.requests == 1  # down: the rest of the batch waits rather than knock again
        assert [(m.attempts, "500" in m.last_error) for m in waiting_mail(db)] == [(1, True), (1, True)]
        notify.fail_with = 429  # too many requests: pb is asked to wait, not refused
        make_all_due(db)
        assert deliver_pending(engine) == 0
        assert [m.attempts for m in waiting_mail(db)] == [2, 2]
        notify.fail_with = None
        assert deliver_pending(engine) == 0  # not due yet
        make_all_due(db)
        assert deliver_pending(engine) == 2
    assert notify.texts_to(MOBILE) == ["Your code is 654321"]
    assert waiting_mail(db) == []

    with db() as session:
        send_sms(MOBILE, "Again", session=session)
    app.config["NOTIFY_BASE_URL"] = f"http://127.0.0.1:{refused_port.port}"  # nothing listens there
    with app.app_context():
        assert deliver_pending(engine) == 0
    [waiting] = waiting_mail(db)
    assert waiting.attempts == 1
    assert waiting.next_attempt_at > now()


def test_a_message_notify_refuses_is_given_up_at_once_and_the_others_go(app, db, caplog):
    landline = "+441134960000"  # not a mobile: Notify answers 400
    with db() as session:
        send_sms(landline, "Your code is 111111", session=session)
        send_sms(MOBILE, "Your code is 222222", session=session)
    with NotifyServer() as notify, app.app_context():
        app.config.update(notify.config())
        assert deliver_pending(app.extensions["pb_engine"]) == 1
        assert notify.requests == 2
    assert notify.texts_to(MOBILE) == ["Your code is 222222"]
    assert waiting_mail(db) == []  # refused for good: not tried again, and the code is not kept
    assert "refused by GOV.UK Notify" in caplog.text
    assert "Not a UK mobile number" in caplog.text
    assert "111111" not in caplog.text
    assert landline not in caplog.text


@pytest.mark.own_app  # adds a route
def test_with_notify_an_action_that_rolls_back_sends_nothing(app, db, fails_after_mail):
    with NotifyServer() as notify:
        app.config.update(notify.config())
        client = app.test_client()
        assert client.post(fails_after_mail + "answer").status_code == 409
        assert client.post(fails_after_mail + "raise").status_code == 500
        with pytest.raises(RuntimeError), db() as session:
            send_sms(MOBILE, "Never sent", session=session)
            raise RuntimeError("the job failed")
        courier_done(app)
        with app.app_context():
            assert deliver_pending(app.extensions["pb_engine"]) == 0
    assert notify.requests == 0
    assert waiting_mail(db) == []


def test_without_notify_text_messages_are_kept_in_the_development_outbox(app, db):
    with db() as session:
        send_sms(MOBILE, "Your code is 333333", session=session)
    with app.app_context():
        assert deliver_pending(app.extensions["pb_engine"]) == 1
    [text] = [m for m in app.extensions["pb_outbox"] if m.to == MOBILE]
    assert text.channel == "sms"
    assert text.body == "Your code is 333333"
    page = app.test_client().get("/dev/outbox", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)
    assert "Text message" in page
    assert MOBILE in page
    assert "333333" in page
    use_mail_server(app, free_port())  # email has a server, text messages still only the outbox
    assert app.test_client().get("/dev/outbox", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_notify_settings_are_checked_before_pb_starts(monkeypatch, tmp_path, database_url):
    from pb import create_app
    from pb.config import ConfigError
    from tests.notify_server import API_KEY, EMAIL_TEMPLATE, SMS_TEMPLATE

    for key in [k for k in __import__("os").environ if k.startswith("PB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PB_INSTANCE_PATH", str(tmp_path / "prod"))
    monkeypatch.setenv("PB_DATABASE_URL", database_url)
    monkeypatch.setenv("PB_ENV", "production")
    monkeypatch.setenv("PB_SECRET_KEY", "k" * 8 + "0123456789abcdefghijklmnopqrstuv")
    monkeypatch.setenv("PB_BASE_URL", "https://pb.example.org")
    with pytest.raises(ConfigError, match="PB_MAIL_SERVER"):  # no way to send email at all
        create_app()
    for bad in ("not-a-key", API_KEY[-36:], API_KEY + "0"):
        monkeypatch.setenv("PB_NOTIFY_API_KEY", bad)
        with pytest.raises(ConfigError, match="PB_NOTIFY_API_KEY must be an API key"):
            create_app()
    monkeypatch.setenv("PB_NOTIFY_API_KEY", API_KEY)
    with pytest.raises(ConfigError, match="PB_NOTIFY_EMAIL_TEMPLATE_ID") as refused:
        create_app()
    assert API_KEY not in str(refused.value)
    assert "\n" not in str(refused.value)
    monkeypatch.setenv("PB_NOTIFY_EMAIL_TEMPLATE_ID", "welcome-email")
    with pytest.raises(ConfigError, match="PB_NOTIFY_EMAIL_TEMPLATE_ID must be the template's ID"):
        create_app()
    monkeypatch.setenv("PB_NOTIFY_EMAIL_TEMPLATE_ID", EMAIL_TEMPLATE.upper())
    monkeypatch.setenv("PB_NOTIFY_BASE_URL", "http://notify.internal")
    with pytest.raises(ConfigError, match="PB_NOTIFY_BASE_URL"):  # production: the key travels over TLS
        create_app()
    monkeypatch.delenv("PB_NOTIFY_BASE_URL")
    app = create_app()  # Notify instead of an SMTP server
    try:
        from pb.mail import text_messages_available

        assert app.config["NOTIFY_EMAIL_TEMPLATE_ID"] == EMAIL_TEMPLATE
        assert not text_messages_available(app.config)  # no template for them
        monkeypatch.setenv("PB_NOTIFY_SMS_TEMPLATE_ID", SMS_TEMPLATE)
    finally:
        app.extensions["pb_engine"].dispose()
    app = create_app()
    try:
        assert text_messages_available(app.config)
    finally:
        app.extensions["pb_engine"].dispose()


def test_the_log_masks_mobile_numbers_but_not_times_or_counts():
    import logging

    from pb.logs import JsonLines, ReadableLines

    for number in ("+447700900123", "07700900123", "447700900123"):
        record = logging.LogRecord(
            "pb.mail",
            logging.WARNING,
            __file__,
            1,
            "text message %s given up: %s since %s, %s ms",
            (7, f"400 - phone_number {number} Not a UK mobile number", "2026-12-04 14:15:42", 1234567890123),
            None,
        )
        for formatter in (JsonLines(), ReadableLines()):
            written = formatter.format(record)
            assert number not in written
            assert "7700900123" not in written
            assert "[phone]" in written
            assert "Not a UK mobile number" in written
            assert "2026-12-04 14:15:42" in written
            assert "1234567890123" in written
