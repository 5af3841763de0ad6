"""Outgoing mail: SMTP when MAIL_SERVER is set, otherwise logged and kept in the outbox."""

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from flask import current_app


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


def configure_mail(app) -> None:
    app.extensions["pb_outbox"] = []


def outbox() -> list[Mail]:
    """Every message sent by this process when no SMTP server is configured."""
    return current_app.extensions["pb_outbox"]


def send_mail(to: str, subject: str, body: str) -> None:
    config = current_app.config
    message = Mail(to=to, subject=str(subject), body=str(body))
    if not config.get("MAIL_SERVER"):
        current_app.logger.info("mail to %s: %s\n%s", message.to, message.subject, message.body)
        outbox().append(message)
        return
    email = EmailMessage()
    email["From"] = config["MAIL_SENDER"]
    email["To"] = message.to
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=20) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(email)
