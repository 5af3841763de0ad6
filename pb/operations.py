"""For whoever runs pb: is the process alive (/healthz), can it serve (/readyz), and, on a
developer's machine without a mail server, what it would have mailed (/dev/outbox)."""

import ipaddress
from datetime import timedelta

from flask import abort, current_app, jsonify, render_template, request
from sqlalchemy import func
from sqlmodel import Session, select

from pb.clock import now
from pb.db import get_engine


def readiness() -> dict[str, str]:
    """Each check, "ok" or its problem in one line: the database answers, its schema is the
    one this code was written for, and no message has waited longer than MAIL_STUCK_AFTER."""
    from pb.mail import OutgoingMail
    from pb.migrate import schema_problem

    engine = get_engine()
    try:
        schema = schema_problem(engine)  # reading the schema's revision is the database's check too
    except Exception as error:  # noqa: BLE001 (any driver's way of saying no)
        current_app.logger.warning("readiness: database unreachable: %s", type(error).__name__)
        return {"database": f"unreachable ({type(error).__name__})", "schema": "not checked", "outbox": "not checked"}
    checks = {"database": "ok", "schema": schema or "ok"}
    if checks["schema"] != "ok":
        checks["outbox"] = "not checked"
        return checks
    stuck_after = timedelta(seconds=current_app.config["MAIL_STUCK_AFTER"])
    with Session(engine) as session:
        stuck = session.exec(
            select(func.count()).select_from(OutgoingMail).where(OutgoingMail.created_at < now() - stuck_after)
        ).one()
    checks["outbox"] = f"{stuck} messages undelivered for over {int(stuck_after.total_seconds())} s" if stuck else "ok"
    return checks


def dev_outbox_shown() -> bool:
    """Whether this request may see /dev/outbox: development without a mail server, asked
    from this machine itself (base.html links to it then, so a newcomer finds the mail)."""
    from pb.mail import keeps_an_outbox

    return keeps_an_outbox(current_app.config) and _from_this_machine()


def configure_operations(app) -> None:
    app.jinja_env.globals["dev_outbox_shown"] = dev_outbox_shown

    @app.route("/healthz")
    def healthz():
        """The process answers; touches nothing (for liveness checks and benchmarks)."""
        return "ok", 200, {"Content-Type": "text/plain"}

    @app.route("/readyz")
    def readyz():
        """200 when this server can serve, 503 when not, naming each check (for the load balancer)."""
        checks = readiness()
        ready = all(value == "ok" for value in checks.values())
        return jsonify(checks), 200 if ready else 503, {"Cache-Control": "no-store"}

    @app.route("/dev/outbox")
    def dev_outbox():
        """Mail and text messages "sent" with nothing set up to send them, newest first: only
        in development, and only to the machine itself (see pb.mail.keeps_an_outbox)."""
        from pb.mail import outbox

        if not dev_outbox_shown():
            abort(404)

        return (
            render_template("pages/dev_outbox.html", mails=list(reversed(outbox()))),
            200,
            {"Cache-Control": "no-store"},
        )


def _from_this_machine() -> bool:
    """Asked from this machine itself, not through a proxy on it: a proxy in front (PB_PROXIES
    unset) makes every visitor look like 127.0.0.1, but says so in X-Forwarded-For."""
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
