"""docs/operating.md and deploy/ kept honest.

- Every setting pb has is in the guide's table, with its real default, and every PB_ name
  the guide or deploy/pb.env.example mentions is a real setting.
- Every `pb ...` line in the guide's code blocks (and the units' ExecStart) names a real
  command with real options, resolved through pb's click group.
- The systemd units pass `systemd-analyze verify` and keep their hardening; the nginx site
  passes `nginx -t`.
- The command blocks marked `<!-- test: NAME -->` in the guide run as written, on this
  machine, with the server's paths moved into a temporary folder: install, the first
  administrator, the services (gunicorn and `pb worker` started from the unit files),
  backups, restore drills, restores, upgrading and rolling back, on SQLite and on
  PostgreSQL. So the guide's commands are the ones the tests run.
"""

import grp
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import click
import pytest

from pb.config import Defaults, _parse_env_value  # how pb reads a PB_ value: the table's defaults are read the same way

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "operating.md"
DEPLOY = REPO / "deploy"
UNITS = ("pb.service", "pb-worker.service")
VENV_BIN = Path(sys.executable).parent  # the environment running these tests stands for /srv/pb/.venv
ADDRESS = "pb.example.org"
BACKENDS = [b.strip() for b in os.environ.get("PB_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]

# Settings pb reads that are not attributes of Defaults, and where.
NOT_IN_DEFAULTS = {"INSTANCE_PATH": REPO / "pb" / "__init__.py"}


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)


def marked_blocks(text: str) -> dict[str, tuple[str, str]]:
    found = re.findall(r"^<!-- test: ([\w-]+) -->\n```(\w*)\n(.*?)^```", text, re.M | re.S)
    names = [name for name, _, _ in found]
    assert len(names) == len(set(names)), f"a test block name is used twice: {names}"
    return {name: (language, body) for name, language, body in found}


def command_lines(body: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, blanks and comments left out."""
    lines, pending = [], ""
    for raw in body.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def defaults() -> dict:
    return {name: value for name, value in vars(Defaults).items() if name.isupper()}


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines as systemd's EnvironmentFile takes them, for the subset deploy/pb.env.example
    allows: bare values of plain characters, or values in single quotes (taken literally)."""
    values = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not NAME=value: {raw!r}"
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), f"{path.name}:{number}: not NAME=value: {raw!r}"
        if len(value) >= 2 and value[0] == value[-1] == "'" and "'" not in value[1:-1]:
            value = value[1:-1]
        else:
            assert re.fullmatch(r"[A-Za-z0-9.,\-_:/@+=?%]*", value), (
                f"{path.name}:{number}: {name}'s value must be in single quotes, or systemd and sh read it differently"
            )
        values[name] = value
    return values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on 127.0.0.1:`port` (and not some
    other process, such as another test's server on a port that was free when chosen)."""
    wanted = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as table:
            inodes = {
                fields[9]
                for fields in (line.split() for line in table.readlines()[1:])
                if fields[1] == wanted and fields[3] == "0A"  # 0A: LISTEN
            }
        held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    except OSError:
        return False
    return any(f"socket:[{inode}]" in held for inode in inodes)


# ---------------------------------------------------------------- (a) settings


def test_every_setting_is_in_the_guides_table_with_its_real_default():
    rows = {}
    for name, default, _meaning in re.findall(r"^\| `PB_([A-Z0-9_]+)` \| (.*?) \| (.*) \|$", guide(), re.M):
        assert name not in rows, f"PB_{name} has two rows in the settings table"
        rows[name] = default
    missing = sorted(set(defaults()) - set(rows))
    assert not missing, "settings missing from the table in docs/operating.md: " + ", ".join(f"PB_{n}" for n in missing)
    for name, value in defaults().items():
        cell = rows[name]
        if value is None:
            assert cell.startswith("none"), f"PB_{name}: the default is none, the guide says {cell!r}"
            continue
        shown = re.search(r"`([^`]*)`", cell)
        assert shown, f"PB_{name}: give the default as `value`"
        assert _parse_env_value(name, shown.group(1)) == value, (
            f"PB_{name}: the default is {value!r}, the guide says {cell!r}"
        )


def test_every_pb_name_in_the_guide_and_the_settings_file_is_a_real_setting():
    for name, path in NOT_IN_DEFAULTS.items():
        assert f"PB_{name}" in path.read_text(encoding="utf-8"), f"PB_{name} is no longer read in {path}"
    real = set(defaults()) | set(NOT_IN_DEFAULTS)
    for path in (GUIDE, DEPLOY / "pb.env.example", DEPLOY / "pb"):
        named = {name.rstrip("_") for name in re.findall(r"\bPB_([A-Z][A-Z0-9_]*)", path.read_text(encoding="utf-8"))}
        unknown = sorted(named - real)
        assert not unknown, f"{path.relative_to(REPO)} names settings pb does not have: " + ", ".join(
            f"PB_{n}" for n in unknown
        )


def test_the_settings_file_is_a_production_server_and_reads_the_same_in_systemd_and_sh():
    example = DEPLOY / "pb.env.example"
    values = read_env_file(example)
    assert values["PB_ENV"] == "production"
    assert values["PB_BASE_URL"].startswith("https://")
    assert values["PB_SECRET_KEY"] == "", "the example must not ship a key: pb refuses to start until one is made"
    assert values["PB_PROXIES"] == "1"
    assert values["PB_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert values["PB_RATE_LIMIT_STORAGE"] == "database"
    for name in (
        "PB_MAIL_SERVER",
        "PB_MAIL_PORT",
        "PB_MAIL_USE_TLS",
        "PB_MAIL_USERNAME",
        "PB_MAIL_PASSWORD",
        "PB_MAIL_SENDER",
    ):
        assert name in values, name
    for unit in UNITS:
        text = (DEPLOY / unit).read_text(encoding="utf-8")
        assert f"ReadWritePaths={values['PB_INSTANCE_PATH']}\n" in text, f"{unit} must let pb write to PB_INSTANCE_PATH"
        assert "EnvironmentFile=/etc/pb/pb.env\n" in text
    # deploy/pb reads the file with sh: it must see exactly what systemd sees.
    script = f"set -a; . {shlex.quote(str(example))}; set +a; env -0"
    shown = subprocess.run(["sh", "-c", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True, check=True).stdout
    seen = dict(item.split("=", 1) for item in shown.decode().split("\0") if item.startswith("PB_"))
    assert seen == values


# ---------------------------------------------------------------- (b) commands


def pb_commands(text: str) -> list[list[str]]:
    """The arguments of every `pb` command in the shell blocks (and crontab lines) of `text`."""
    found = []
    for language, body in fenced_blocks(text):
        if language not in ("sh", ""):
            continue
        for line in command_lines(body):
            line = re.sub(r"\$\([^)]*\)", "X", line)  # $(date +%F) and the like
            line = re.sub(r"^(?:[A-Z_]+=(?:'[^']*'|\S+)\s+)+", "", line)  # PB_DATABASE_URL=... pb ...
            match = re.match(r"pb\s+(.*)", line) or re.search(
                r"(?:^|\s)(?:/usr/local/bin|/srv/pb/\.venv/bin)/pb\s+(.*)", line
            )
            if not match:
                continue
            lexer = shlex.shlex(match.group(1), posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            args = []
            for token in lexer:
                if token and set(token) <= set("&|;<>()"):
                    break  # the end of pb's part of a pipeline or list
                args.append(token)
            found.append(args)
    return found


def resolve(args: list[str]) -> click.Command:
    """The command `pb ARGS` would run, with ARGS parsed as it would parse them (unknown
    commands, options and extra arguments fail), without running it or loading the app."""
    from flask.cli import NoAppException, ScriptInfo

    from pb.cli import main

    def no_app():
        raise NoAppException("not loaded: only pb's own commands count")

    ctx = click.Context(main, info_name="pb", obj=ScriptInfo(create_app=no_app))
    command, name, rest = main, "pb", list(args)
    while isinstance(command, click.Group):
        assert rest, f"`pb {' '.join(args)}` names a group, not a command"
        name, command, rest = command.resolve_command(ctx, rest)
        ctx = click.Context(command, info_name=name, parent=ctx)
    command.make_context(name, rest, parent=ctx.parent)
    return command


def test_every_pb_command_in_the_guide_and_the_units_is_real(monkeypatch):
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    lines = pb_commands(guide())
    for unit in UNITS:
        for start in re.findall(r"^ExecStart=\S*/bin/pb (.*)$", (DEPLOY / unit).read_text(), re.M):
            lines.append(shlex.split(start))
    shown = {" ".join(args[:2]) if args[0] in ("db", "user", "rounds", "audit") else args[0] for args in lines}
    expected = {
        "db upgrade",
        "db current",
        "db history",
        "db downgrade",
        "user create",
        "rounds advance",
        "audit verify",
        "backup",
        "restore",
        "worker",
        "mail-deliver",
    }
    assert expected <= shown, f"the guide no longer shows: {sorted(expected - shown)}"
    for args in lines:
        try:
            resolve(args)
        except click.ClickException as error:
            pytest.fail(f"`pb {' '.join(args)}` in docs/operating.md: {error.format_message()}")


# ---------------------------------------------------------------- (c) systemd


def test_the_units_pass_systemd_analyze_and_stay_hardened(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is missing: install systemd (Debian: apt-get install systemd)")
    paths = []
    for unit in UNITS:
        # verify checks that ExecStart's program exists: point it at this environment's
        # gunicorn and pb, which stand for /srv/pb/.venv (the rest is checked as written).
        text = (DEPLOY / unit).read_text(encoding="utf-8").replace("/srv/pb/.venv/bin/", f"{VENV_BIN}/")
        program = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
        assert os.access(program, os.X_OK), f"{unit}: {program} is not in this environment"
        (tmp_path / unit).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / unit))
    verified = subprocess.run([tool, "verify", *paths], capture_output=True, text=True)
    said = (verified.stdout + verified.stderr).strip()
    assert verified.returncode == 0, f"systemd-analyze verify: {said}"
    assert not said, f"systemd-analyze verify: {said}"
    for path in paths:
        # Exposure 0-10 (scaled by ten here); the units score 1.4. More means hardening was lost.
        scored = subprocess.run(
            [tool, "security", "--offline=true", "--threshold=20", path], capture_output=True, text=True
        )
        overall = re.search(r"Overall exposure level.*", scored.stdout)
        assert scored.returncode == 0, (
            f"{Path(path).name} is less hardened than it was: {overall.group(0) if overall else scored.stderr}"
        )


# ---------------------------------------------------------------- (d) nginx


def nginx_directives(name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", (DEPLOY / "nginx.conf").read_text(encoding="utf-8"), re.M)


def test_the_nginx_site_passes_nginx_t(tmp_path):
    nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if nginx is None:
        pytest.fail("nginx is missing: install nginx (Debian: apt-get install nginx)")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is missing: install openssl (Debian: apt-get install openssl)")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={ADDRESS}",
            "-keyout",
            str(tmp_path / "key.pem"),
            "-out",
            str(tmp_path / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    site = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    site = re.sub(r"(ssl_certificate\s+)\S+;", rf"\g<1>{tmp_path}/cert.pem;", site)
    site = re.sub(r"(ssl_certificate_key\s+)\S+;", rf"\g<1>{tmp_path}/key.pem;", site)
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    mime = "include /etc/nginx/mime.types;" if os.path.exists("/etc/nginx/mime.types") else ""
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    {mime}\n    access_log {tmp_path}/access.log;\n"
        + "".join(
            f"    {kind}_temp_path {tmp_path}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    assert "[warn]" not in checked.stderr, checked.stderr
    assert "[emerg]" not in checked.stderr, checked.stderr


def test_the_nginx_site_agrees_with_pb_and_its_unit():
    (size,) = nginx_directives("client_max_body_size")
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", size.lower()).groups()
    assert int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit] == Defaults.MAX_CONTENT_LENGTH
    bind = re.search(r"--bind (\S+)", (DEPLOY / "pb.service").read_text()).group(1)
    assert set(nginx_directives("proxy_pass")) == {f"http://{bind}"}
    headers = dict(h.split(None, 1) for h in nginx_directives("proxy_set_header"))
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["X-Request-Id"] == "$request_id"
    workdir = re.search(r"^WorkingDirectory=(\S+)", (DEPLOY / "pb.service").read_text(), re.M).group(1)
    assert nginx_directives("alias") == [f"{workdir}/static/"]
    assert re.search(r"location = /readyz", (DEPLOY / "nginx.conf").read_text())


# ---------------------------------------------------------------- the guide's blocks, run


class Machine:
    """This machine playing the server of docs/operating.md: the guide's paths are moved
    into a temporary folder, the pb and root users become whoever runs the tests, and
    `systemctl` and `curl` lines are carried out by starting the units' own ExecStart
    commands and asking them over HTTP as nginx would."""

    def __init__(self, tmp_path: Path, postgres=None):
        self.top = tmp_path
        self.etc, self.lib, self.backups = tmp_path / "etc-pb", tmp_path / "var-lib-pb", tmp_path / "var-backups-pb"
        self.bin, self.units, self.run_dir = tmp_path / "usr-local-bin", tmp_path / "systemd", tmp_path / "run-pb"
        for folder in (self.bin, self.units, self.run_dir):
            folder.mkdir()
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.group = grp.getgrgid(os.getgid()).gr_name
        self.postgres = postgres
        self.port = free_port()
        self.processes: dict[str, tuple[subprocess.Popen, Path]] = {}
        self.moves = [
            ("/srv/pb/.venv/bin/", f"{VENV_BIN}/"),
            ("/srv/pb", str(REPO)),
            ("/etc/pb", str(self.etc)),
            ("/var/lib/pb", str(self.lib)),
            ("/var/backups/pb", str(self.backups)),
            ("/usr/local/bin/pb", str(self.bin / "pb")),
            ("/etc/systemd/system/", f"{self.units}/"),
            ("/run/pb", str(self.run_dir)),
        ]
        if postgres is not None:
            self.moves.append(("/var/run/postgresql", postgres.root))

    # -- the environment

    def env(self) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.top),
            "LANG": "C.UTF-8",
        }
        if self.postgres is not None:
            env.update(PGHOST=self.postgres.root, PGPORT=str(self.postgres.port))
            if os.geteuid() != 0:
                env["PGUSER"] = "postgres"
        return env

    def moved(self, text: str) -> str:
        for old, new in self.moves:
            text = text.replace(old, new)
        text = re.sub(r"-o (?:root|pb)\b", f"-o {self.user}", text)
        text = re.sub(r"-g pb\b", f"-g {self.group}", text)
        if os.geteuid() != 0:
            text = text.replace("runuser -u postgres -- ", "")
        if "$(date" not in text:  # a dated backup named in the guide: the newest one made here

            def newest(match):
                made = sorted(self.backups.glob(f"pb-*.{match.group(1)}"), key=os.path.getmtime)
                assert made, f"no {match.group(1)} backup made yet for {text!r}"
                return made[-1].name

            text = re.sub(r"pb-\d{4}-\d\d-\d\d(?:-\d{4})?\.(sqlite|dump)", newest, text)
        return text

    def after_settings(self) -> None:
        """What the guide leaves to the operator after "Settings": deploy/pb pointed at this
        machine's users and paths, and /etc/pb/pb.env's paths and mail server."""
        wrapper = self.bin / "pb"
        text = wrapper.read_text()
        for name, value in (("user", self.user), ("settings", f"{self.etc}/pb.env"), ("program", f"{VENV_BIN}/pb")):
            text, count = re.subn(rf"^{name}=\S+$", f"{name}={value}", text, flags=re.M)
            assert count == 1, f"deploy/pb no longer sets {name}="
        wrapper.write_text(text)
        settings = self.etc / "pb.env"
        text = self.moved(settings.read_text())
        text = re.sub(r"^PB_MAIL_SERVER=.*$", "PB_MAIL_SERVER=127.0.0.1", text, flags=re.M)
        text = re.sub(
            r"^PB_MAIL_PORT=.*$", f"PB_MAIL_PORT={free_port()}", text, flags=re.M
        )  # nothing listens: mail waits
        settings.write_text(text)

    # -- running the guide

    def block(self, name: str) -> list[str]:
        language, body = marked_blocks(guide())[name]
        assert language == "sh", f"block {name} is not a shell block"
        return command_lines(body)

    def run(self, name: str, *, answers: str = "", fill: dict[str, str] | None = None) -> str:
        output = []
        for line in self.block(name):
            for placeholder, value in (fill or {}).items():
                line = re.sub(rf"\b{placeholder}\b", value, line)
            if line.startswith("systemctl "):
                self.systemctl(line.split()[1:])
            elif line.startswith("curl "):
                output.append(self.curl(line))
            else:
                output.append(self.sh(line, answers))
        return "\n".join(output)

    def sh(self, line: str, answers: str = "") -> str:
        command = self.moved(line)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=REPO,
            env=self.env(),
            input=answers,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"`{line}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def systemctl(self, args: list[str]) -> None:
        verb, names = args[0], [a for a in args[1:] if not a.startswith("-")]
        if verb == "daemon-reload":
            return
        if verb in ("stop", "restart"):
            for name in names:
                self.stop(name)
        if verb in ("start", "restart", "enable"):
            assert verb != "enable" or "--now" in args, "enable without --now starts nothing"
            for name in names:
                self.start(name)

    def curl(self, line: str) -> str:
        words = shlex.split(line)
        headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
        url = next(word for word in words if word.startswith("http"))
        status, _, body = self.get(url, headers)
        assert 200 <= status < 300, f"`{line}` answered {status}: {body}"
        return body

    def get(self, url: str, headers: dict | None = None, request_id: str | None = None):
        """GET as nginx would pass it on for https://pb.example.org/..., or as given for 127.0.0.1:8000."""
        headers = dict(headers or {})
        if url.startswith(f"https://{ADDRESS}"):
            path = url[len(f"https://{ADDRESS}") :]
            headers.update(
                {
                    "Host": ADDRESS,
                    "X-Forwarded-Proto": "https",
                    "X-Forwarded-For": "127.0.0.1",
                    "X-Forwarded-Host": ADDRESS,
                    "X-Request-Id": request_id or uuid.uuid4().hex,
                }
            )
        else:
            assert url.startswith("http://127.0.0.1:8000/"), url
            path = url[len("http://127.0.0.1:8000") :]
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    # -- the services

    def unit(self, name: str) -> tuple[list[str], Path, dict[str, str]]:
        installed = self.units / f"{name}.service"  # as "Services" installs it; before that, deploy's
        text = self.moved((installed if installed.exists() else DEPLOY / installed.name).read_text(encoding="utf-8"))
        start = re.search(r"^ExecStart=(.*)$", text, re.M).group(1).replace("127.0.0.1:8000", f"127.0.0.1:{self.port}")
        start = re.sub(
            r"--workers \d+", "--workers 1", start
        )  # as written but for the number: each boots the whole app
        workdir = Path(re.search(r"^WorkingDirectory=(.*)$", text, re.M).group(1))
        env = self.env()
        for line in re.findall(r"^EnvironmentFile=(.*)$", text, re.M):
            env.update(read_env_file(Path(line)))
        for line in re.findall(r"^Environment=(.*)$", text, re.M):
            key, _, value = line.partition("=")
            env[key] = value
        return shlex.split(start), workdir, env

    def launch(self, name: str) -> tuple[subprocess.Popen, Path]:
        argv, workdir, env = self.unit(name)
        self.launches = getattr(self, "launches", 0) + 1
        log = self.top / f"{name}-{self.launches}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        return process, log

    def launch_pb(self) -> tuple[subprocess.Popen, Path]:
        """Launch pb.service and wait until it listens on self.port or has exited. The port
        was free when chosen, but another process can bind it meanwhile (between two starts,
        say): then gunicorn cannot bind it, and pb is launched again on another."""
        for retries_left in (2, 1, 0):
            process, log = self.launch("pb")
            deadline = time.monotonic() + 60
            while True:
                exited = process.poll() is not None
                if not exited and listens_on(process.pid, self.port):
                    return process, log
                if retries_left and "Connection in use" in log.read_text(errors="replace"):
                    break  # gunicorn retries the port for a while: another one at once
                if exited:
                    return process, log
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    pytest.fail(f"pb.service did not listen on its port in 60 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.05)
            if process.poll() is None:
                process.kill()
            process.wait()
            self.port = free_port()
        raise AssertionError("unreachable")

    def start(self, name: str) -> None:
        assert name not in self.processes, f"{name} is already running"
        process, log = self.launch_pb() if name == "pb" else self.launch(name)
        self.processes[name] = (process, log)
        if name != "pb":
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                del self.processes[name]
                pytest.fail(f"pb.service did not start:\n{log.read_text()[-3000:]}")
            try:
                if self.get(f"https://{ADDRESS}/healthz")[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        pytest.fail(f"pb.service did not answer in 60 s:\n{log.read_text()[-3000:]}")

    def start_refused(self) -> str:
        """Start pb.service expecting it to refuse; returns what it said."""
        process, log = self.launch_pb()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"pb.service started on a schema it should refuse:\n{log.read_text()[-3000:]}")
        assert process.returncode != 0
        return log.read_text()

    def stop(self, name: str) -> None:
        if name not in self.processes:
            return
        process, log = self.processes.pop(name)
        assert process.poll() is None, f"{name} had stopped by itself:\n{log.read_text()[-3000:]}"
        process.terminate()
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            process, _ = self.processes.pop(name)
            process.kill()
            process.wait()

    def log_line(self, request_id: str) -> dict:
        _, log = self.processes["pb"]
        for line in log.read_text().splitlines():
            if request_id in line and line.startswith("{"):
                return json.loads(line)
        pytest.fail(f"no log line for request {request_id}")


def refusals() -> list[re.Pattern]:
    """The guide's quoted refusals, with its revision placeholders matching any revision."""
    _language, body = marked_blocks(guide())["refusals"]
    patterns = []
    for line in body.strip().splitlines():
        pattern = re.sub(r"\b(OLD|NEWER|NEW|HEAD)\b", r"\\S+", re.escape(line))
        patterns.append(re.compile(pattern))
    return patterns


def refused_with(said: str, pattern: re.Pattern) -> None:
    assert pattern.search(said), f"pb refused otherwise than the guide says ({pattern.pattern}):\n{said[-3000:]}"


def previous_revision() -> str:
    from alembic.script import ScriptDirectory

    from pb.migrate import MIGRATIONS

    scripts = ScriptDirectory(MIGRATIONS)
    return scripts.get_revision(scripts.get_current_head()).down_revision


@pytest.fixture
def machine(tmp_path):
    made = []

    def make(**kwargs):
        made.append(Machine(tmp_path, **kwargs))
        return made[-1]

    yield make
    for m in made:
        m.stop_all()


@pytest.mark.slow
def test_the_guide_installs_backs_up_restores_upgrades_and_rolls_back_on_sqlite(machine):
    m = machine()
    no_schema, behind, unknown = refusals()
    m.run("settings")
    m.after_settings()
    m.run("sqlite")
    assert "PB_DATABASE_URL" not in read_env_file(m.etc / "pb.env")
    refused_with(m.start_refused(), no_schema)
    m.run("schema")
    made = m.run("first-admin")
    assert f"https://{ADDRESS}/" in made, made
    assert json.loads(m.run("services")) == {"database": "ok", "outbox": "ok", "schema": "ok"}

    # The request id nginx sends is pb's, in its answer and in its log line, which has the
    # fields the guide shows.
    request_id = uuid.uuid4().hex
    status, headers, _ = m.get(f"https://{ADDRESS}/readyz", request_id=request_id)
    assert status == 200
    assert headers["X-Request-Id"] == request_id
    shown = json.loads(marked_blocks(guide())["log-line"][1])
    assert set(m.log_line(request_id)) == set(shown)

    key = read_env_file(m.etc / "pb.env")["PB_SECRET_KEY"]
    m.run("rotate")
    assert read_env_file(m.etc / "pb.env")["PB_SECRET_KEY"] not in ("", key)
    assert m.get(f"https://{ADDRESS}/readyz")[0] == 200

    m.run("sqlite-backup")
    # The drill points pb at a copy by a PB_DATABASE_URL in front of the command, which
    # deploy/pb must let win over /etc/pb/pb.env's (or the drill would check the live one).
    elsewhere = subprocess.run(
        ["bash", "-c", f"PB_DATABASE_URL=sqlite:///{m.top}/empty.sqlite pb db current"],
        env=m.env(),
        capture_output=True,
        text=True,
    )
    assert elsewhere.returncode == 1, elsewhere
    assert "no pb schema" in elsewhere.stdout + elsewhere.stderr, elsewhere
    m.run("sqlite-drill")
    assert not list(m.lib.glob("drill.sqlite*"))
    m.run("sqlite-restore", answers="y\n")

    m.run("upgrade-stop")
    m.run("upgrade-start")

    m.run("rollback", answers="y\n", fill={"REV": previous_revision()})
    refused_with(m.start_refused(), behind)
    m.run("upgrade-start")

    m.run("upgrade-stop")
    database = sqlite3.connect(m.lib / "pb.sqlite")
    with database:
        database.execute("UPDATE alembic_version SET version_num = 'f00dfeedface'")
    database.close()
    refused_with(m.start_refused(), unknown)


@pytest.mark.slow
@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PB_TEST_BACKENDS leaves PostgreSQL out")
def test_the_guides_postgresql_commands_run_as_written(machine, request):
    server = request.getfixturevalue("postgres_server")
    m = machine(postgres=server)
    try:
        m.run("settings")
        m.after_settings()
        m.run("postgresql")
        m.run("schema")
        m.run("first-admin")
        m.run("pg-backup")
        verified = m.run("pg-drill")
        assert "platform: ok" in verified, verified
        m.run("pg-restore")
        status, _, body = m.get(f"https://{ADDRESS}/readyz")
        assert status == 200, body
    finally:
        m.stop_all()
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        for command in (
            ["dropdb", "--if-exists", "pb_drill"],
            ["dropdb", "--if-exists", "pb"],
            ["dropuser", "--if-exists", "pb"],
        ):
            subprocess.run([*as_postgres, *command], env=m.env(), capture_output=True)
