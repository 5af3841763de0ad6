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

    def connect(self, database: str):
        """A plain psycopg connection, in autocommit, for the fixtures' own work."""
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True)

    def _run(self, *args: str) -> None:
        command = [os.path.join(self.bin_dir, args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
        # The port was free when chosen, but another process (another worker's server, say)
        # can bind it before the postmaster does: then choose another and start again.
        for retries_left in (2, 1, 0):
            self.port = _free_port()
            try:
                self.resume()
                return
            except subprocess.CalledProcessError:
                if not retries_left or "Address already in use" not in self.log_tail():
                    raise

    def pause(self) -> None:
        """Stop the server, keeping its data, as a crash or a maintenance window would."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    @property
    def log(self) -> str:
        return os.path.join(self.root, "log")

    def resume(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-w", "start")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# Everything in a database that a test could change besides its rows, one line per thing,
# hashed: schemas, tables, columns, indexes, constraints, triggers (and whether each is
# enabled), functions' sources, sequences' definitions, types, rules, views, policies,
# extensions, the database's own settings (ALTER DATABASE ... SET), large objects, and the
# schema's version in alembic_version.
SCHEMA_FINGERPRINT = r"""
SELECT md5(string_agg(line, E'\n' ORDER BY line)) FROM (
    SELECT format('schema %s %s', nspname, nspacl) FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
  UNION ALL
    SELECT format('relation %s %s %s %s %s %s %s', c.oid::regclass, c.relkind, c.relpersistence, c.relrowsecurity,
                  c.relforcerowsecurity, c.relacl, c.reloptions)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  UNION ALL
    SELECT format('column %s %s %s %s %s %s %s %s', a.attrelid::regclass, a.attnum, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attisdropped, a.attidentity,
                  pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  UNION ALL
    SELECT format('index %s %s', pg_get_indexdef(i.indexrelid), i.indisvalid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  UNION ALL
    SELECT format('constraint %s %s %s %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid), k.convalidated)
    FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
    WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  UNION ALL
    SELECT format('trigger %s %s', pg_get_triggerdef(t.oid), t.tgenabled) FROM pg_trigger t WHERE NOT t.tgisinternal
  UNION ALL
    SELECT format('function %s %s %s', p.oid::regprocedure, p.prokind, md5(p.prosrc))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  UNION ALL
    SELECT format('sequence %s %s %s %s %s %s %s %s', s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart,
                  s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle)
    FROM pg_sequence s
  UNION ALL
    SELECT format('type %s %s', t.oid::regtype, t.typtype) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('d', 'e', 'r', 'm') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  UNION ALL
    SELECT format('enum %s %s %s', e.enumtypid::regtype, e.enumsortorder, e.enumlabel) FROM pg_enum e
  UNION ALL
    SELECT format('rule %s', pg_get_ruledef(r.oid)) FROM pg_rewrite r WHERE r.rulename <> '_RETURN'
  UNION ALL
    SELECT format('view %s %s', c.oid::regclass, pg_get_viewdef(c.oid))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('v', 'm') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  UNION ALL
    SELECT format('policy %s %s %s', p.polrelid::regclass, p.polname, pg_get_expr(p.polqual, p.polrelid)) FROM pg_policy p
  UNION ALL
    SELECT format('extension %s %s', x.extname, x.extversion) FROM pg_extension x
  UNION ALL
    SELECT format('event trigger %s %s %s', e.evtname, e.evtevent, e.evtenabled) FROM pg_event_trigger e
  UNION ALL
    SELECT format('database %s %s %s', d.datconnlimit, d.datallowconn, d.datacl) FROM pg_database d
    WHERE d.datname = current_database()
  UNION ALL
    SELECT format('settings %s %s', s.setrole, s.setconfig) FROM pg_db_role_setting s
    WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
    SELECT format('large objects %s', count(*)) FROM pg_largeobject_metadata
  UNION ALL
    SELECT format('alembic_version %s', v.version_num) FROM public.alembic_version v
) AS schema (line)
"""


def schema_fingerprint(connection) -> str:
    return connection.execute(SCHEMA_FINGERPRINT).fetchone()[0]


class WorkerDatabase:
    """The database one worker's PostgreSQL tests run in, one test at a time.

    It is copied once from the migrated template and, after each test, put back to the
    template's state (every table but alembic_version emptied, every sequence restarted)
    rather than dropped and copied again, which costs up to a second a test under load.
    Emptying puts back rows only: a test that changed more (dropped or disabled a trigger,
    ran a migration down, rewrote alembic_version, set a setting on the database) leaves a
    schema whose fingerprint is not the template's, and then, or if emptying fails or waits
    on a lock, the database is dropped and copied afresh from the template.
    """

    def __init__(self, server: PostgresServer, name: str, template: str = "pb_template"):
        self.server = server
        self.name = name
        self.template = template
        self.url = server.url(name)
        self.copies = 0
        self.put_backs = 0  # tests run in it, but for the one running
        self._copy()
        with server.connect(name) as connection:
            self.fingerprint = schema_fingerprint(connection)
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY 1"
                )
            ]
        # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes new files for
        # every table and index (~0.2 s against ~0.01 s here). The guarding triggers
        # (pb.audit.guard) refuse to delete from the audit log, ballots and results; as a
        # replica this session fires none of them, nor any foreign key's (so the order of
        # the tables does not matter), and only this session, which ends here: they hold
        # again for the next test (tests/test_fixtures.py).
        self._empty = "".join(
            [
                "SET session_replication_role = replica;\n",
                *(f"DELETE FROM {table};\n" for table in tables),
                "SELECT setval(seqrelid, seqstart, false) FROM pg_sequence",
            ]
        )

    def put_back(self) -> None:
        """Back to the template's state, after a test (and after its engines are disposed)."""
        import psycopg

        self.put_backs += 1
        try:
            with self.server.connect(self.name) as connection:
                # Whatever the test left connected (an engine not disposed, a server process)
                # goes, with its locks: pg_terminate_backend waits (up to 10 s) until it has.
                connection.execute(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                connection.execute("SET lock_timeout = '2s'")
                if schema_fingerprint(connection) == self.fingerprint:
                    connection.execute(self._empty)
                    return
        except psycopg.Error:
            pass
        self._copy()

    def _copy(self) -> None:
        with self.server.connect("postgres") as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {self.name} TEMPLATE {self.template}")
        self.copies += 1

    def drop(self) -> None:
        with self.server.connect("postgres") as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


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
    server = PostgresServer(root=root, port=0, bin_dir=_bin_dir(), as_postgres=as_postgres)  # start() chooses it
    try:
        server.start()
    except subprocess.CalledProcessError as error:
        log = (error.stdout.decode(errors="replace") if error.stdout else "") + server.log_tail()
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {log}") from error
    return server
