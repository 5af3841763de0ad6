"""A stand-in for GOV.UK Notify's API on a loopback port: the part pb's client uses.

POST /v2/notifications/email and /v2/notifications/sms, each with a JSON Web Token as
Notify checks it (HS256, signed with the API key's secret, `iss` the service id, `iat`
within 30 seconds), a template this service has, and the personalisation the template
asks for. It answers as Notify does: 201 with the notification's id and content; 400
with Notify's error list for a bad request (a number that is not a UK mobile, a missing
placeholder); 403 for a bad token. `fail_with` makes it answer every request with that
status instead (500: Notify is down). What it accepted is kept in `sent`.
"""

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"pb_test-{SERVICE_ID}-{SECRET}"
EMAIL_TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
SMS_TEMPLATE = "8f3a2f31-39b9-4d8f-9d2a-6d4e1f2b7c10"
TEMPLATES = {EMAIL_TEMPLATE: ("email", "((subject))", "((body))"), SMS_TEMPLATE: ("sms", "", "((body))")}
UK_MOBILE = re.compile(r"(?:\+44|0044|0)7\d{9}")


@dataclass(frozen=True)
class Notification:
    kind: str  # "email" or "sms"
    to: str
    subject: str
    body: str


def _fill(text: str, personalisation: dict) -> tuple[str, list[str]]:
    missing = [name for name in re.findall(r"\(\(([^)]+)\)\)", text) if name not in personalisation]
    return re.sub(r"\(\(([^)]+)\)\)", lambda m: str(personalisation.get(m.group(1), "")), text), missing


class NotifyServer:
    def __init__(self):
        self.sent: list[Notification] = []
        self.requests = 0
        self.fail_with: int | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # http.server's name
                status, answer = server.answer(
                    self.path,
                    self.headers.get("Authorization", ""),
                    self.rfile.read(int(self.headers.get("Content-Length", 0))),
                )
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def config(self) -> dict:
        """The settings that send pb's messages here."""
        return {
            "NOTIFY_API_KEY": API_KEY,
            "NOTIFY_EMAIL_TEMPLATE_ID": EMAIL_TEMPLATE,
            "NOTIFY_SMS_TEMPLATE_ID": SMS_TEMPLATE,
            "NOTIFY_BASE_URL": self.url,
        }

    def texts_to(self, number: str) -> list[str]:
        return [n.body for n in self.sent if n.kind == "sms" and n.to == number]

    @staticmethod
    def _error(status: int, error: str, message: str) -> tuple[int, dict]:
        return status, {"status_code": status, "errors": [{"error": error, "message": message}]}

    def answer(self, path: str, authorization: str, raw: bytes) -> tuple[int, dict]:
        with self._lock:
            self.requests += 1
        if self.fail_with:
            return self._error(self.fail_with, "Exception", "Internal server error")
        token = authorization.removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"require": ["iss", "iat"]})
        except jwt.PyJWTError as error:
            return self._error(403, "AuthError", f"Invalid token: {error}")
        if claims["iss"] != SERVICE_ID or abs(time.time() - claims["iat"]) > 30:
            return self._error(403, "AuthError", "Invalid token: iss or iat")
        kind = {"/v2/notifications/email": "email", "/v2/notifications/sms": "sms"}.get(path)
        if kind is None:
            return self._error(404, "NotFound", "Not found")
        data = json.loads(raw)
        template = TEMPLATES.get(data.get("template_id"))
        if template is None or template[0] != kind:
            return self._error(400, "BadRequestError", "Template not found")
        to = data.get("phone_number" if kind == "sms" else "email_address") or ""
        if kind == "sms" and not UK_MOBILE.fullmatch(re.sub(r"[\s()-]", "", to)):
            return self._error(400, "ValidationError", "phone_number Not a UK mobile number")
        if kind == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", to):
            return self._error(400, "ValidationError", "email_address Not a valid email address")
        personalisation = data.get("personalisation") or {}
        subject, missing_subject = _fill(template[1], personalisation)
        body, missing_body = _fill(template[2], personalisation)
        if missing_subject or missing_body:
            return self._error(
                400, "BadRequestError", f"Missing personalisation: {', '.join(missing_subject + missing_body)}"
            )
        with self._lock:
            self.sent.append(Notification(kind, to, subject, body))
        notification_id = str(uuid.uuid4())
        content = (
            {"body": body, "from_number": "GOVUK"}
            if kind == "sms"
            else {"subject": subject, "body": body, "from_email": "pb@notifications.service.gov.uk"}
        )
        return 201, {
            "id": notification_id,
            "reference": data.get("reference"),
            "content": content,
            "uri": f"{self.url}/v2/notifications/{notification_id}",
            "template": {
                "id": data["template_id"],
                "version": 1,
                "uri": f"{self.url}/services/{SERVICE_ID}/templates/{data['template_id']}",
            },
            "scheduled_for": None,
        }
