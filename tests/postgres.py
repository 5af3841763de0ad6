"""A real PostgreSQL server for the test session, started from the server binaries.

initdb and pg_ctl refuse to run as root (and CI runs as root), so as root the server
commands run as the `postgres` user while pytest itself stays as it is.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass


def _bin_dir() -> str:
    found = shutil.which("pg_ctl")
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found: install PostgreSQL "
            "(e.g. apt-get install postgresql) or run with PB_TEST_BACKENDS=sqlite"
        )
    return os.path.dirname(candidates[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    root: str
    port: int
    bin_dir: str
    as_postgres: bool

    @property
    def data(self) -> str:
        return os.path.join(self.root, "data")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [os.path.join(self.bin_dir, args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
        self.resume()

    def pause(self) -> None:
        """Stop the server, keeping its data, as a crash or a maintenance window would."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.root, "log"), "-w", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def migrated_database(server: PostgresServer, name: str) -> str:
    """Create database `name` on `server`, migrated to the code's head; returns its URL."""
    from sqlalchemy import create_engine, text

    from pb.migrate import upgrade

    admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    upgrade(server.url(name))
    return server.url(name)


def start_server() -> PostgresServer:
    as_postgres = os.geteuid() == 0
    root = tempfile.mkdtemp(prefix="pb-postgres-", dir="/tmp")
    if as_postgres:
        shutil.chown(root, user="postgres", group="postgres")
    server = PostgresServer(root=root, port=_free_port(), bin_dir=_bin_dir(), as_postgres=as_postgres)
    try:
        server.start()
    except subprocess.CalledProcessError as error:
        log = error.stdout.decode(errors="replace") if error.stdout else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {log}") from error
    return server
