"""Real servers for tests: gunicorn on a free loopback port, started, killed and restarted
as a whole or a worker at a time, and a browser-like HTTP client that keeps its cookies.

Each gunicorn master is started in a process group of its own, so that the master and
all its workers can be killed together (SIGKILL, as a crash would) and nothing is left
behind: `stop()` always ends the whole group.
"""

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = "servers-test-secret-0123456789abcdefghijklmnop"  # long enough for pb.config
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
RECEIPT_PAGE = re.compile(r"/vote/receipt$")
RECEIPT = re.compile(r'class="receipt"><strong>([0-9A-Z]{5}-[0-9A-Z]{5})<')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, process group, state) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2]), fields[0]


def _live_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


class Gunicorn:
    """gunicorn serving wsgi:app on 127.0.0.1:`port` (sync workers) against `database_url`."""

    def __init__(
        self,
        *,
        database_url: str,
        instance_path: str,
        log_path: str,
        port: int | None = None,
        workers: int = 2,
        secret: str = SECRET,
        env: dict | None = None,
    ):
        self.port = port or free_port()
        # A free port chosen here can be taken by another process before gunicorn binds it:
        # then wait_ready chooses another and launches again (twice at most).
        self._port_chosen = port is None
        self._port_retries = 2
        self.workers = workers
        self.log_path = log_path
        self.env = {
            **os.environ,
            "PB_DATABASE_URL": database_url,
            "PB_SECRET_KEY": secret,
            "PB_INSTANCE_PATH": instance_path,
            "PB_SESSION_COOKIE_SECURE": "false",
            "PB_REMEMBER_COOKIE_SECURE": "false",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 60) -> None:
        """Start the master (in a new process group) and wait until it answers /healthz
        and all its workers are forked."""
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the master (in a new process group of its own) without waiting for it."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-w",
                    str(self.workers),
                    "-k",
                    "sync",
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "--timeout",
                    "60",
                    "--graceful-timeout",
                    "5",
                    "--log-level",
                    "warning",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the server answers /healthz and all its workers are forked."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if self._port_chosen and self._port_retries and "Address already in use" in self.log_tail(600):
                    self._port_retries -= 1
                    self.port = free_port()
                    self.launch()
                    continue
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            if len(self.worker_pids()) >= self.workers and self._healthy():
                return
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not answer on port {self.port} within {timeout} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            return response.status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The master's children that are alive (its workers)."""
        if self.process is None:
            return []
        found = []
        for pid in _live_pids():
            stat = _stat(pid)
            if stat and stat[0] == self.process.pid and stat[2] != "Z":
                found.append(pid)
        return found

    def group_pids(self) -> list[int]:
        """Every live (not zombie) process of the server's process group."""
        if self.process is None:
            return []
        group = self.process.pid
        return [pid for pid in _live_pids() if (stat := _stat(pid)) and stat[1] == group and stat[2] != "Z"]

    def kill_worker(self, rng) -> int | None:
        """SIGKILL one worker, chosen at random; the master forks a new one. Returns its pid."""
        pids = self.worker_pids()
        if not pids:
            return None
        pid = rng.choice(pids)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return pid

    def kill(self) -> None:
        """SIGKILL the master and every worker at once, as a crash of the machine's server would,
        and wait until none of them is left (so the port is free again)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._wait_group_gone()

    def restart(self) -> None:
        with self._lock:
            self.kill()
            self.start()

    def stop(self) -> None:
        """Stop gracefully (SIGTERM: requests in progress finish), then make sure the whole
        process group is gone. Safe to call more than once."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        self.kill()  # whatever is left of the group

    def _wait_group_gone(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.group_pids():
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes of gunicorn's group still alive: {self.group_pids()}")
            time.sleep(0.02)

    # ------------------------------------------------------------ its log

    def log_text(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]


# ---------------------------------------------------------------- a browser


class Unanswered(Exception):
    """No HTTP response. `sent` says whether the request may have reached the server
    (False only when the connection was refused: nothing was sent)."""

    def __init__(self, sent: bool, cause: BaseException):
        super().__init__(f"{'lost' if sent else 'refused'}: {cause!r}")
        self.sent = sent
        self.cause = cause


@dataclass
class Response:
    status: int
    headers: dict
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Browser:
    """One person's browser: keeps its cookies (for every port of 127.0.0.1, as a browser
    does: cookies do not depend on the port), one connection per request."""

    port: int
    timeout: float = 20
    cookies: dict = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict | list | None = None, *, port: int | None = None) -> Response:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=self.timeout)
        try:
            try:
                conn.connect()
            except OSError as error:
                raise Unanswered(False, error) from None
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                try:
                    data = response.read().decode(errors="replace")
                finally:
                    response.close()
            except (OSError, http.client.HTTPException) as error:
                raise Unanswered(True, error) from None
        finally:
            conn.close()
        for raw in response.msg.get_all("Set-Cookie") or []:
            self._keep(raw)
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    def _keep(self, raw: str) -> None:
        first, *attributes = [part.strip() for part in raw.split(";")]
        name, _, value = first.partition("=")
        expired = any(
            a.lower() in ("max-age=0",) or a.lower().startswith("expires=thu, 01 jan 1970") for a in attributes
        )
        if expired or value == "":
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form, **kwargs) -> Response:
        return self.request("POST", path, form, **kwargs)

    def csrf_token(self, path: str, **kwargs) -> str:
        page = self.get(path, **kwargs)
        match = CSRF_FIELD.search(page.body)
        assert match, f"no CSRF token on {path} (status {page.status})"
        return match.group(1) or match.group(2)


# ---------------------------------------------------------------- what residents and users do


def prove_with_code(browser: Browser, round_id: int, code: str, *, port: int | None = None) -> str:
    """Prove eligibility with a voting code. Returns the CSRF token to cast with."""
    token = browser.csrf_token(f"/rounds/{round_id}/vote", port=port)
    response = browser.post(f"/rounds/{round_id}/vote/code", {"csrf_token": token, "code": code}, port=port)
    failed = f"proving eligibility with a code: {response.status} {response.location}\n{response.body[:2000]}"
    assert response.status == 302, failed
    assert response.location.endswith(f"/rounds/{round_id}/vote/ballots"), failed
    return token


def cast(browser: Browser, round_id: int, contest_id: int, projects, token: str, *, port: int | None = None):
    """A complete, confirmed cast. Returns (response, receipt or None)."""
    form = [("csrf_token", token), *(("project", str(p)) for p in projects), ("confirm", "1")]
    response = browser.post(f"/rounds/{round_id}/vote/{contest_id}", form, port=port)
    if response.status != 302 or not RECEIPT_PAGE.search(response.location):
        return response, None
    page = browser.get(f"/rounds/{round_id}/vote/receipt", port=port)  # the receipt is never in a URL
    match = RECEIPT.search(page.body) if page.status == 200 else None
    return response, (match.group(1) if match else None)


def sign_in(browser: Browser, email: str, password: str, *, port: int | None = None) -> Response:
    token = browser.csrf_token("/sign-in", port=port)
    return browser.post("/sign-in", {"csrf_token": token, "email": email, "password": password}, port=port)
