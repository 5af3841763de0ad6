"""Fixtures: a fresh, migrated database per test, on SQLite and on a real PostgreSQL.

Every test that uses `app` runs once per backend in PB_TEST_BACKENDS (default: both).
The schema is built once per backend by the real migrations. On SQLite each test gets a
copy of that file; on PostgreSQL each worker copies the template once (CREATE DATABASE
... TEMPLATE) and puts that copy back to the template's state after each test (emptied,
or copied again if the test changed its schema: tests.postgres.WorkerDatabase). The app is
built once per backend in each worker and lent to one test at a time, pointed at that
test's database (SharedApp); a test that changes the app itself is marked `own_app`.
"""

import copy
import os
import re
import shutil

import pytest

from pb import create_app
from pb.migrate import upgrade
from tests.postgres import WorkerDatabase, migrated_database, start_server


def pytest_sessionstart(session):
    """Build the .mo catalogues (they are never committed), as `make translations` does:
    once, by the controlling process when tests run in parallel (pytest -n)."""
    if hasattr(session.config, "workerinput"):
        return
    import subprocess
    import sys
    from pathlib import Path

    translations = Path(__file__).resolve().parents[1] / "translations"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "compile", "-d", str(translations)],
        check=True,
        capture_output=True,
    )


BACKENDS = [b.strip() for b in os.environ.get("PB_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]


@pytest.fixture(scope="session")
def postgres_server():
    server = start_server()
    migrated_database(server, "pb_template")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres_server):
    """This worker's PostgreSQL database, put back to the template's state after each test."""
    database = WorkerDatabase(postgres_server, f"pb_test_{os.getpid()}")
    yield database
    database.drop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "pb.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    database = request.getfixturevalue("postgres_database")
    yield database.url
    database.put_back()


# scrypt is what production hashes with, and most of a test's set-up time; the tests' app hashes
# with one round of PBKDF2 instead (only honoured when TESTING: pb.config). A test marked
# `production_hash` keeps scrypt.
CHEAP_PASSWORD_HASH = "pbkdf2:sha256:1"


def build_app(database_url: str, instance_path: str, *, cheap_hash: bool = True):
    return create_app(
        {
            **({"PASSWORD_HASH_METHOD": CHEAP_PASSWORD_HASH} if cheap_hash else {}),
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "SERVER_NAME": "localhost",
            "BASE_URL": "http://localhost",  # links in mail, letters and QR codes; other hosts refused
            "TRUSTED_HOSTS": ["127.0.0.1"],  # ...but for tests' own servers on loopback
            "INSTANCE_PATH": instance_path,
        }
    )


class SharedApp:
    """One app per backend in each worker, lent to one test at a time: building an app is a
    good part of a short test's time. Each loan starts as a new app would: the test's own
    database (a new engine), instance folder, outbox, mail courier and throttle, and the
    settings as built (a test may change them; they are put back)."""

    def __init__(self, app):
        self.app = app
        self.config = copy.deepcopy(dict(app.config))
        app.extensions.pop("pb_engine").dispose()  # each loan has its own
        self.extensions = {
            name: value for name, value in app.extensions.items() if name not in ("pb_outbox", "pb_courier")
        }
        self.shape = self._shape()

    def _shape(self):
        return sorted(rule.rule for rule in self.app.url_map.iter_rules()), sorted(self.app.view_functions)

    def lend(self, database_url: str, instance_path: str):
        from pb.db import make_engine
        from pb.mail import Courier, Outbox

        app = self.app
        app.config.clear()
        app.config.update(copy.deepcopy(self.config))
        app.config.update(DATABASE_URL=database_url, INSTANCE_PATH=instance_path)
        app.instance_path = instance_path
        os.makedirs(instance_path, exist_ok=True)
        app.extensions.clear()
        app.extensions.update(self.extensions)  # Babel, CSRF, sign-in: no state of their own per test
        app.extensions.update(pb_engine=make_engine(database_url), pb_outbox=Outbox(), pb_courier=Courier())
        return app

    def take_back(self) -> None:
        app = self.app
        # The courier delivers in a thread of its own: let it finish with this test's database,
        # or it would deliver into the next test's outbox.
        assert app.extensions["pb_courier"].idle.wait(30), "the mail courier was still busy 30 s after the test"
        app.extensions["pb_engine"].dispose()
        assert self._shape() == self.shape, "the test changed the shared app (a route?): mark it @pytest.mark.own_app"


@pytest.fixture(scope="session")
def shared_apps() -> dict[str, SharedApp]:
    return {}  # by backend: "sqlite", "postgresql+psycopg"


@pytest.fixture
def app(request, database_url, tmp_path, shared_apps):
    instance_path = str(tmp_path / "instance")
    production_hash = request.node.get_closest_marker("production_hash") is not None
    if production_hash or request.node.get_closest_marker("own_app"):
        app = build_app(database_url, instance_path, cheap_hash=not production_hash)
        yield app
        app.extensions["pb_engine"].dispose()
        return
    backend = database_url.split(":", 1)[0]
    if backend not in shared_apps:
        shared_apps[backend] = SharedApp(build_app(database_url, instance_path))
    shared = shared_apps[backend]
    yield shared.lend(database_url, instance_path)
    shared.take_back()


@pytest.fixture
def client(app):
    return FormClient(app)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """A session for arranging and inspecting data directly (commits on leaving)."""
    from pb.db import session_scope

    def scope(write=True):
        return session_scope(app.extensions["pb_engine"], write=write)

    return scope


CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


class FormClient:
    """Flask's test client, plus `submit` which sends a form the way a browser would:
    it first loads the page, takes the CSRF token from it, then posts."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()

    def get(self, *args, **kwargs):
        return self.http.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        return self.http.post(*args, **kwargs)

    def csrf_token(self, page_url: str) -> str:
        page = self.http.get(page_url)
        match = CSRF_FIELD.search(page.get_data(as_text=True))
        assert match, f"no CSRF token on {page_url} (status {page.status_code})"
        return match.group(1) or match.group(2)

    def submit(self, url: str, data: dict, *, page: str | None = None, **kwargs):
        token = self.csrf_token(page or url)
        return self.http.post(url, data={**data, "csrf_token": token}, **kwargs)

    def sign_in(self, email: str, password: str):
        response = self.submit("/sign-in", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response


@pytest.fixture
def make_user(app, db):
    """Create a user (and optionally an organisation membership) directly through the services."""
    from sqlmodel import select

    from pb.accounts import services
    from pb.accounts.models import Organisation

    def make(
        email, *, name="Test Person", password="correct horse battery", admin=False, organisation=None, kind="anchor"
    ):
        with app.test_request_context(), db() as session:
            user = services.create_user(session, email=email, name=name, password=password, is_platform_admin=admin)
            if organisation:
                org = session.exec(select(Organisation).where(Organisation.name == organisation)).first()
                if org is None:
                    subtype = "local_authority" if kind == "anchor" else "charity"
                    org = services.create_organisation(
                        session, actor=user, name=organisation, kind=kind, subtype=subtype
                    )
                services.add_member(session, actor=user, organisation=org, user=user)
            return user

    return make
