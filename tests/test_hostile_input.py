"""Hostile input at scale gets a clean answer: never a 500, and a refusal writes nothing.

Property-based (hypothesis). Four areas:

1. forms: every POST route that reads a form, posted by the role allowed to use it,
   with random and hostile values (huge, empty, wrong types, unicode edge cases,
   markup, SQL-looking text), repeated keys, unknown fields, missing fields, bad or
   missing CSRF tokens and bodies that are not forms at all;
2. query strings and path segments of GET routes;
3. uploads: the photo fields of the proposal and delivery update forms;
4. Pabulib files mangled at random, given to `pb tally`.

For every request: the status is below 500, and when it is a refusal (4xx) every table
is as it was before, apart from the writes a refusal makes on purpose (see
`unexplained_changes`), and no uploaded file was kept. The audit chains still verify
after each form's run.

The web tests share one arranged world per backend (users of every role, a round in
each phase) so that the time goes into trying inputs rather than arranging data. Each
example compares the database with itself just before the request, so what earlier
examples changed does not matter.

A test does not stop at its first failure: it carries on through all its inputs, keeps
one report per kind of failure (with the shortest input and the last lines of the
traceback in pb's code) and fails at the end with all of them. Bugs found are pinned:
`FormSpec.pinned` and `@example` inputs are tried on every run.

The examples per test scale with PB_HOSTILE_SCALE (default 1; the whole module then takes
about two to three minutes on both backends). At the end the module prints
"hostile inputs tried: N, 500s seen: M", the answers per area and the failures by cause.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import random
import re
import shutil
import signal
import struct
import traceback
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import BACKENDS, FormClient
from tests.factories import let_voting_close, make_codes, make_round, officer, open_voting, organisation, user

SCALE = float(os.environ.get("PB_HOSTILE_SCALE", "1"))
PASSWORD = "correct horse battery"
DATA = Path(__file__).resolve().parent / "data" / "pabulib"

ADMIN, COUNCIL, TRUST, CITY = "admin@pb.example", "lead@council.example", "lead@trust.example", "lead@uni.example"
MEMBER, OTHER, REVIEWER = "chair@park.example", "chair@other.example", "reviewer@example.org"
HELPER, PLAIN, FORGETFUL, JOINER = (
    "helper@example.org",
    "plain@example.org",
    "forgetful@example.org",
    "joiner@example.org",
)
VOTER_EMAIL = "resident@example.org"


def scaled(n: int) -> int:
    return max(1, round(n * SCALE))


COMMON = {
    "deadline": None,
    "database": None,  # nothing written under .hypothesis/; failing cases are kept with @example
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
}

# ---------------------------------------------------------------- what was tried (reported at the end)

TRIED: Counter = Counter()  # (area, backend) -> inputs tried
FIVE_HUNDREDS: Counter = Counter()  # (area, backend) -> 500s seen
STATUSES: Counter = Counter()  # (area, status) -> answers
FINDINGS: list[tuple[str, str]] = []  # (cause, first line of a report) per kind of failure, for the summary


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request):
    yield
    total, errors = sum(TRIED.values()), sum(FIVE_HUNDREDS.values())
    lines = [f"hostile inputs tried: {total}, 500s seen: {errors}"]
    for (area, backend), n in sorted(TRIED.items()):
        lines.append(f"  {area:8} {backend:10} {n:6} tried, {FIVE_HUNDREDS[(area, backend)]} 500s")
    for area in sorted({a for a, _s in STATUSES}):
        lines.append(
            f"  {area:8} answers: "
            + ", ".join(f"{status}: {n}" for (a, status), n in sorted(STATUSES.items()) if a == area)
        )
    causes: dict[str, list[str]] = {}
    for cause, headline in FINDINGS:
        causes.setdefault(cause, []).append(headline)
    if causes:
        lines.append("failures seen, by cause (routes or forms affected, and one example):")
        for cause, headlines in sorted(causes.items(), key=lambda item: -len(item[1])):
            lines.append(f"  {len(headlines):3} x {cause[:160]}")
            lines.append(f"        e.g. {min(headlines, key=len)[:200]}")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)
    else:
        print("\n".join(lines))


# ---------------------------------------------------------------- hostile values

HUGE = 100_000
HUGE_VALUES = [
    "x" * HUGE,
    "é" * (HUGE // 2),  # 100 kB of two-byte characters
    "😀" * (HUGE // 4),  # 100 kB of four-byte characters
    ("Donaudampfschifffahrtsgesellschaftskapitän" * 2500)[:HUGE],  # one very long word
    " " * HUGE,
    "\n".join(f"line {n}" for n in range(12_000)),  # a great many lines
    ", ".join(f"LS{n % 99} {n % 9}" for n in range(12_000)),  # a great many postcodes
    "<script>alert(1)</script>" * 4000,
    "\u200d" * (HUGE // 3),  # zero-width joiners only
    "e" + "\u0301" * (HUGE // 2 - 1),  # one letter, fifty thousand accents
    "9" * HUGE,  # a 100,000-digit number
]
XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "'><iframe src=//evil.example>",
]
NASTY = [
    "",
    " ",
    "   \t\n  ",
    "\x00",
    "a\x00b",
    "\x00" * 8,
    "\r\n",
    "\r\nSet-Cookie: pb=1",
    "\x1b[31m",
    "\x7f\x08",
    *XSS,
    "{{ 7*7 }}",
    "{% for x in range(9**9) %}",
    "${7*7}",
    "%(name)s",
    "%s%s%s%n",
    "{0.__class__}",
    "' OR 1=1 --",
    '\'; DROP TABLE "user"; --',
    "1; DELETE FROM round",
    '" OR ""="',
    "\\",
    "\\'",
    "%",
    "_",
    "%%",
    "\u202eevil\u202c",
    "\u200f\u200e\u061c",
    "\u200d",
    "\u200b",
    "👩‍👩‍👧‍👦",
    "🏳️‍🌈" * 20,
    "e\u0301\u0302\u0303\u0304",
    "Z̸̡̢̛͎̼̠̳͔̮̫͖̓̈́̀͌͗̆ͅą̷̛̺̯̜̟͇̳̓̎̈́l̴̡̛̘̪̰̠̥͋̑̐g̷̛̟̤̼̗̥̘͐̄̔o̵͓̦̖̬̍̀͂",
    "\ufeff",
    "\ufffd",
    "\uffff",
    "\U0010ffff",
    "\u0085",
    "\u2028\u2029",
    "ﷺ",
    "𒐫" * 100,
    "İıŞş",
    "ß" * 50,
    "ǅ",
    "\u00a0\u202f\u2009",
    "-1",
    "0",
    "-0",
    "00",
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "-inf",
    "9" * 30,
    "-" + "9" * 30,
    "0x1F",
    "1_000",
    "١٢٣",
    "１２３",  # noqa: RUF001 (look-alike digits on purpose)
    "۱۲",
    "²",
    "Ⅻ",
    "12.5",
    "1,000,000.999",
    "£-5",
    "£",
    "€12",
    "1'000",
    "99999999999999999999",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "1.7976931348623157e+308",
    "0.1e-400",
    "2027-02-30",
    "0000-00-00",
    "9999-12-31",
    "0001-01-01",
    "2027-13-45T25:61",
    "31/12/2027",
    "2027-03-31T10:00",
    "2027-03-31",
    "10000-01-01T00:00",
    "1970-01-01T00:00:00Z",
    "2038-01-19T03:14:08",
    "null",
    "None",
    "true",
    "false",
    "[]",
    "{}",
    "[object Object]",
    "undefined",
    "y",
    "on",
    "1",
    "../../etc/passwd",
    "/\\evil.example",
    "//evil.example",
    "http://evil.example/",
    "/%2F%2Fevil.example",
    "name@example.org",
    "a@b",
    "@",
    "a" * 64 + "@" + "b" * 63 + ".org",
    '"@"@example.org',
    "x@[127.0.0.1]",
    "LS6 1AA",
    "ls61aa",
    "LS6",
    "SW1A 1AA",
    "AAAA-BBBB-CCCC",
    "ABCDE-FGHJK",
    "123456",
    "0000000",
]
SAFE_CHARS = st.characters(exclude_categories=("Cs",))  # lone surrogates cannot be sent in HTTP
TEXT = st.text(SAFE_CHARS, max_size=40)


def _hostile_text():
    return st.one_of(
        st.sampled_from(NASTY),
        TEXT,
        st.sampled_from(HUGE_VALUES),
        st.integers(-(10**40), 10**40).map(str),
        st.builds(lambda a, b: a + b, st.sampled_from(NASTY), TEXT),
    )


KIND_VALUES = {
    "int": st.one_of(
        st.integers(-(10**30), 10**30).map(str), st.sampled_from([" 3 ", "+3", "3.0", "3e2", "٣", "1_0", "0003"])
    ),
    "money": st.one_of(
        st.integers(-(10**25), 10**25).map(str),
        st.integers(10**6, 10**11).map(lambda n: f"{n:,}"),  # millions of pounds, around the 32-bit pence limit
        st.sampled_from(["21,474,836.47", "21,474,836.48", "99,999,999.99", "100,000,000", "100,000,000.01"]),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(
            [
                "1,2,3,4",
                "0.001",
                "£1,000.50",
                " 12 ",
                "1.000,50",
                "12,50",
                "1 000",
                "1\u202f000",
                "£ ",
                "1..2",
                "1,,000",
                "0",
                "0.00",
                ".5",
                "5.",
                "99999999999999999.99",
                "12'345.6",
            ]
        ),
    ),
    "date": st.one_of(st.dates().map(str), st.sampled_from(["2027-2-3", "27-02-03", "2027-02-03T00:00", "2027/02/03"])),
    "datetime": st.one_of(
        st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
        st.datetimes().map(lambda d: d.isoformat()),
        st.sampled_from(["2027-03-31 10:00", "2027-03-31T10", "2027-03-31T10:00:00+14:00", "2027-03-26T01:30"]),
    ),
    "email": st.one_of(
        st.emails().map(str), st.sampled_from(["a@b.c", "A@EXAMPLE.ORG", " a@example.org ", "a@example..org"])
    ),
    "postcode": st.one_of(
        st.from_regex(r"\A[A-Z]{1,2}[0-9]{1,2}[A-Z]? ?[0-9][A-Z]{2}\Z"), st.sampled_from(["LS6", "LS 6", "ls6\n1aa"])
    ),
    "tel": st.one_of(
        st.from_regex(r"\A(\+44 ?|0044|0)7[0-9]{3} ?[0-9]{6}\Z"),
        st.sampled_from(
            [
                "+44 (0)7700 900123",
                "0113 496 0000",
                "\u0660\u0667\u0667\u0660\u0660\u0669\u0660\u0660\u0661\u0662\u0663",
                "+",
                "07700900123" * 3,
                "+1 202 555 0100",
                "07624 123456",
                "07000 123456",
            ]
        ),
    ),
    "bool": st.sampled_from(["y", "n", "0", "false", "on", "", "yes"]),
    "select": st.one_of(st.integers(-5, 10**6).map(str), st.sampled_from(["0", "-1", "1.0", " 1", "1 ", "0x1"])),
}
FILENAMES = [
    "photo.jpg",
    "photo.png",
    "photo.webp",
    "photo.gif",
    "photo.exe",
    "photo",
    ".jpg",
    "photo.JPG",
    "../../../etc/passwd.jpg",
    "photo.jpg\x00.php",
    "фото.png",
    "p" * 300 + ".jpg",
    "",
    "photo.png.php",
]


def hostile_value(kind: str):
    if kind == "file":
        return st.tuples(
            st.binary(max_size=3000), st.sampled_from(FILENAMES), st.sampled_from(["image/jpeg", "text/plain", ""])
        )
    extra = KIND_VALUES.get(kind)
    return st.one_of(_hostile_text(), extra) if extra is not None else _hostile_text()


def short(value: Any, limit: int = 60) -> str:
    """A value as shown in a report: long ones cut down, with their length."""
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], bytes):
        return f"<file {value[1]!r}, {len(value[0])} bytes, {value[0][:12]!r}...>"
    if isinstance(value, (bytes, str)) and len(value) > limit:
        return f"{value[: limit // 2]!r}...<{len(value)} {'bytes' if isinstance(value, bytes) else 'chars'}>"
    return repr(value)


# ---------------------------------------------------------------- forms: what each takes and who may use it


@dataclass
class Field:
    name: str
    kind: str = "text"  # text, int, money, date, datetime, email, postcode, bool, select, multi, file, control
    valid: Any = ""  # a value, a list (repeated key), None (left out) or a callable(world)


@dataclass
class FormSpec:
    name: str
    who: str  # a signed-in client's key in World.clients, or "fresh" (a new anonymous browser each time)
    url: Callable[[World], str | list[str]]
    fields: Callable[[World], list[Field]]
    examples: int = 16
    page: Callable[[World], str] | None = None  # where a fresh browser gets its CSRF token
    pinned: list[dict] = field(default_factory=list)  # inputs always tried (bugs found): {field: value}


def rows(prefix: str, count: int, columns: list[tuple[str, str]], first: dict | None = None) -> list[Field]:
    made = []
    for n in range(count):
        for column, kind in columns:
            made.append(Field(f"{prefix}-{n}-{column}", kind, (first or {}).get(column, "") if n == 0 else ""))
    return made


_unique = itertools.count(1)


def unique(pattern: str) -> Callable[[World], str]:
    return lambda w: pattern.format(next(_unique))


def area_figures() -> list[Field]:
    return [Field("population", "int", "12000"), Field("electorate", "int", "9000")]


def round_fields(w: World, organisation_field: bool) -> list[Field]:
    fields = [Field("organisation", "select", str(w.org["Eastshire Council"]))] if organisation_field else []
    return [
        *fields,
        Field("title", "text", "Greener Eastshire 2028"),
        Field("purpose", "text", "Money for green ideas."),
        Field("eligibility", "text", "People who live here."),
        Field("minimum_age", "int", "16"),
        Field("methods", "multi", ["codes", "email"]),
        Field("categories", "text", "Parks\nYoung people"),
        Field("max_project_cost", "money", "25,000" if organisation_field else ""),
        Field("objectives", "text", "Net zero"),
        Field("currency", "select", "GBP"),
    ]


def timeline_fields(w: World) -> list[Field]:
    return [
        Field(name, "datetime", f"2031-0{n + 1}-01T09:00")
        for n, name in enumerate(
            ["proposals_open_at", "screening_at", "voting_opens_at", "voting_closes_at", "results_at"]
        )
    ]


def contest_fields(w: World, r: dict) -> list[Field]:
    return [
        Field("name", "text", "East ballot"),
        Field("area", "select", str(r["areas"]["North"])),
        Field("ballot_kind", "select", "approval"),
        Field("min_picks", "int", "1"),
        Field("max_picks", "int", "3"),
        Field("limit_to_budget", "bool", "y"),
        Field("rank_depth", "int", "3"),
        Field("points_total", "int", "10"),
        Field("points_max", "int", "5"),
        Field("rule", "select", "greedy"),
    ]


def limit_fields(w: World, r: dict) -> list[Field]:
    category = w.first_id("category", r["round"])
    return [Field(f"fewest_{category}", "int", "1"), Field(f"most_{category}", "int", "2")]


def pot_fields(w: World, r: dict) -> list[Field]:
    return [
        Field("organisation", "select", str(w.org["Eastshire Council"])),
        Field("contest", "select", str(r["contests"]["North"])),
        Field("name", "text", "Top-up fund"),
        Field("amount", "money", "1,000"),
    ]


def proposal_fields(w: World, new: bool) -> list[Field]:
    r = w.r4 if new else w.r1  # R4 has no limit on a project's cost, R1 has one
    fields = [Field("organisation", "select", str(w.org["Friends of the Park"]))] if new else []
    return [
        *fields,
        Field("contest", "select", str(r["contests"]["North"])),
        Field("title", "text", "Benches by the pond"),
        Field("summary", "text", "Six benches."),
        Field("description", "text", "Oak benches."),
        Field("category", "select", lambda w: str(w.first_id("category", r["round"]))),
        Field("objectives", "multi", lambda w: [str(w.first_id("charter_objective", r["round"]))]),
        *rows("cost_lines", 8, [("item", "text"), ("amount", "money")], {"item": "Benches", "amount": "1,200.50"}),
        Field("beneficiaries", "text", "Older people"),
        Field("postcode", "postcode", "LS6 1AA"),
        Field("photo", "file", None),
        Field("kept_photo", "text", ""),
        Field("action", "control", "save"),
    ]


def update_fields(w: World) -> list[Field]:
    return [
        Field("status", "select", lambda w: w.allowed_status(w.r3["funded"][0])),
        Field("reason", "text", "Waiting for the landowner's permission."),
        Field("note", "text", "Diggers arrive on Monday."),
        *rows(
            "milestones",
            6,
            [("title", "text"), ("due", "date"), ("done", "bool")],
            {"title": "Order materials", "due": "2027-01-10", "done": "y"},
        ),
        *rows(
            "spend",
            10,
            [("item", "text"), ("amount", "money"), ("local", "bool")],
            {"item": "Timber from Eastshire Sawmill", "amount": "1,200.50", "local": "y"},
        ),
        Field("photo", "file", None),
    ]


FORMS = [
    # accounts and organisations
    FormSpec(
        "sign_up",
        "fresh",
        lambda w: "/sign-up",
        lambda w: [Field("name", "text", "New Person"), Field("email", "email", unique("new-{}@example.org"))],
        page=lambda w: "/sign-up",
    ),
    FormSpec(
        "sign_up_finish",
        "fresh",
        lambda w: f"/sign-up/{w.sign_up_token()}",
        lambda w: [
            Field("name", "text", "New Person"),
            Field("password", "text", PASSWORD),
            Field("confirm", "text", PASSWORD),
        ],
        page=lambda w: "/sign-up",
        pinned=[{"name": "a\x00b"}],
    ),  # PostgreSQL: text with a NUL byte reaches the database (anyone can sign up)
    FormSpec(
        "sign_in",
        "fresh",
        lambda w: "/sign-in",
        lambda w: [Field("email", "email", COUNCIL), Field("password", "text", PASSWORD)],
        page=lambda w: "/sign-in",
    ),
    FormSpec("reset_request", "anon", lambda w: "/reset-password", lambda w: [Field("email", "email", MEMBER)]),
    FormSpec(
        "reset_password",
        "anon",
        lambda w: f"/reset-password/{w.reset_token()}",
        lambda w: [
            Field("password", "text", "another long password"),
            Field("confirm", "text", "another long password"),
        ],
    ),
    FormSpec(
        "admin_organisations",
        "admin",
        lambda w: "/admin/organisations",
        lambda w: [
            Field("name", "text", unique("Organisation {}")),
            Field("kind", "select", "group"),
            Field("subtype", "select", "charity"),
        ],
        pinned=[{"name": "a\x00b"}],
    ),  # PostgreSQL: NUL byte
    FormSpec(
        "admin_members",
        "admin",
        lambda w: f"/admin/organisations/{w.org['City University']}",
        lambda w: [Field("email", "email", PLAIN)],
    ),
    FormSpec(
        "group_register",
        "member",
        lambda w: "/groups/new",
        lambda w: [
            Field("name", "text", unique("Allotment Society {}")),
            Field("subtype", "select", "charity"),
            Field("registered_number", "text", "1234567"),
            Field("contact_email", "email", "society@example.org"),
            Field("area_served", "text", "Headingley"),
        ],
        pinned=[{"name": "a\x00b"}],
    ),  # PostgreSQL: NUL byte
    FormSpec(
        "group_invite",
        "member",
        lambda w: f"/groups/{w.org['Friends of the Park']}",
        lambda w: [Field("email", "email", "invitee@example.org")],
    ),
    FormSpec("group_accept", "joiner", lambda w: f"/groups/invitations/{w.invitation}", lambda w: []),
    # residents' news of a round (R2 is taking votes)
    FormSpec(
        "news_subscribe",
        "fresh",
        lambda w: f"/rounds/{w.r2['round']}/news",
        lambda w: [Field("email", "email", unique("resident-{}@example.org"))],
        page=lambda w: f"/rounds/{w.r2['round']}/news",
    ),
    FormSpec("news_confirm", "anon", lambda w: f"/news/confirm/{w.news_token('confirm')}", lambda w: []),
    FormSpec(
        "news_stop",
        "anon",
        lambda w: f"/news/stop/{w.news_token('stop')}",
        lambda w: [Field("scope", "select", "round")],
    ),
    FormSpec(
        "language",
        "plain",
        lambda w: "/language",
        lambda w: [Field("language", "select", "cy"), Field("next", "text", "/rounds/")],
    ),
    # setting up rounds (R0 and RT take proposals; R2 is frozen: voting is open)
    FormSpec(
        "round_new",
        "council",
        lambda w: "/rounds/new",
        lambda w: round_fields(w, True),
        pinned=[
            {"max_project_cost": "21,474,836.48"},  # PostgreSQL: round.max_project_cost past a 32-bit integer
            {"title": "a\x00b"},
        ],
    ),  # PostgreSQL: NUL byte
    FormSpec(
        "round_edit",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/edit",
        lambda w: round_fields(w, False),
        pinned=[{"max_project_cost": "99999999999999999.99"}],
    ),  # past a 64-bit integer: SQLite too
    FormSpec(
        "round_edit_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/edit",
        lambda w: round_fields(w, False),
        examples=8,
    ),
    FormSpec("timeline", "council", lambda w: f"/rounds/{w.rt['round']}/timeline", timeline_fields),
    # The equality-monitoring switch: before voting opens (R0), and refused once it has (R2).
    FormSpec(
        "equality_settings",
        "council",
        lambda w: [f"/rounds/{w.r0['round']}/equality/settings", f"/rounds/{w.r2['round']}/equality/settings"],
        lambda w: [Field("on", "bool", "y")],
        examples=8,
    ),
    # A round's contact, questions and paper-voting places: correctable while voting is open (R2).
    FormSpec(
        "round_help",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/help/edit",
        lambda w: [
            Field("contact_name", "text", "Eastshire PB team"),
            Field("contact_email", "email", "pb@eastshire.example"),
            Field("contact_phone", "text", "01632 960 123"),
            Field("contact_address", "text", "Town Hall\nEastshire"),
            Field("contact_hours", "text", "Weekdays 9 to 5"),
            *rows(
                "questions",
                10,
                [("question", "text"), ("answer", "text"), ("order", "int")],
                {"question": "Who can vote?", "answer": "Everyone aged 11 or over.", "order": "1"},
            ),
            *rows(
                "places",
                8,
                [("name", "text"), ("address", "text"), ("opening_times", "text")],
                {"name": "Central Library", "address": "1 Library Way", "opening_times": "Saturdays"},
            ),
        ],
        pinned=[{"contact_name": "a\x00b"}, {"questions-1-answer": "<script>alert(1)</script>"}],
    ),
    FormSpec("timeline_frozen", "council", lambda w: f"/rounds/{w.r2['round']}/timeline", timeline_fields, examples=8),
    FormSpec(
        "area_new",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/areas/new",
        lambda w: [
            Field("name", "text", "East"),
            Field("postcodes", "text", "LS7\nLS8 1, LS9 2AB"),
            *area_figures(),
        ],
    ),
    FormSpec(
        "area_edit",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/areas/{w.r0['areas']['South']}",
        lambda w: [Field("name", "text", "South"), Field("postcodes", "text", "LS11"), *area_figures()],
        pinned=[{"name": "a\x00b"}, {"population": "10", "electorate": "11"}],
    ),  # PostgreSQL: NUL byte
    # Once voting has opened, an area's population and electorate only (correctable, audited).
    FormSpec(
        "area_figures_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/areas/{w.r2['areas']['South']}",
        lambda w: area_figures(),
        examples=12,
        pinned=[{"population": "10", "electorate": "11"}, {"population": "-1"}, {"electorate": "99999999999999999999"}],
    ),
    FormSpec(
        "area_new_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/areas/new",
        lambda w: [Field("name", "text", "East"), Field("postcodes", "text", "LS7")],
        examples=8,
    ),
    FormSpec(
        "contest_new", "council", lambda w: f"/rounds/{w.r0['round']}/contests/new", lambda w: contest_fields(w, w.r0)
    ),
    FormSpec(
        "contest_edit",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/contests/{w.r0['contests']['South']}",
        lambda w: contest_fields(w, w.r0),
    ),
    FormSpec(
        "contest_edit_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/contests/{w.r2['contests']['South']}",
        lambda w: contest_fields(w, w.r2),
        examples=8,
    ),
    FormSpec(
        "contest_limits",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/contests/{w.r0['contests']['North']}/limits",
        lambda w: limit_fields(w, w.r0),
    ),
    FormSpec(
        "contest_limits_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/contests/{w.r2['contests']['North']}/limits",
        lambda w: limit_fields(w, w.r2),
        examples=8,
    ),
    FormSpec(
        "partners",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/partners",
        lambda w: [Field("organisation", "select", str(w.org["City University"]))],
    ),
    FormSpec(
        "pledge",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/pots/new",
        lambda w: pot_fields(w, w.r0),
        pinned=[
            {"amount": "30,000,000"},  # PostgreSQL: pot.amount past a 32-bit integer, under the £100m limit
            {"name": "a\x00b"},
        ],
    ),  # PostgreSQL: NUL byte
    FormSpec(
        "pledge_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/pots/new",
        lambda w: pot_fields(w, w.r2),
        examples=8,
    ),
    FormSpec(
        "raise_pot",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/pots/{w.r0['pot']}",
        lambda w: [Field("amount", "money", lambda w: f"{w.pot_amount(w.r0['pot']) // 100 + 1}")],
        pinned=[{"amount": "30,000,000"}],
    ),
    FormSpec(
        "raise_pot_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/pots/{w.r2['pot']}",
        lambda w: [Field("amount", "money", "90,000")],
        examples=8,
    ),
    # a round's languages (R0) and its own text in them (R1 offers Welsh)
    FormSpec(
        "round_languages",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/languages",
        lambda w: [Field("source", "select", "en_GB"), Field("others", "multi", ["cy", "ar"])],
    ),
    FormSpec(
        "round_languages_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/languages",
        lambda w: [Field("source", "select", "en_GB"), Field("others", "multi", ["cy"])],
        examples=8,
    ),
    FormSpec(
        "round_translations",
        "council",
        lambda w: f"/rounds/{w.r1['round']}/translations",
        lambda w: [
            Field("language", "select", "cy"),
            Field("title", "text", "Dwyrain Sir Wyrddach"),
            Field("purpose", "text", "Arian ar gyfer syniadau gwyrdd."),
            Field("eligibility", "text", "Pobl sy'n byw yma."),
        ],
    ),
    # proposals and screening (R1 takes proposals)
    FormSpec(
        "proposal_new",
        "member",
        lambda w: f"/rounds/{w.r4['round']}/proposals/new",
        lambda w: proposal_fields(w, True),
        pinned=[
            {"cost_lines-0-amount": "30,000,000"},  # PostgreSQL: proposal.total_cost past a 32-bit integer
            {"title": "a\x00b"},  # PostgreSQL: NUL byte
            {"cost_lines-1-item": "<script>alert(1)</script>"},  # "Give an amount for “<script>...”" unescaped
            {
                "__extras__": [("a\r", "1")],
                "__encoding__": "multipart",
            },  # a part whose name breaks its header: a None key
        ],
    ),
    FormSpec(
        "proposal_edit", "member", lambda w: f"/proposals/{w.r1['draft']}/edit", lambda w: proposal_fields(w, False)
    ),
    FormSpec(
        "reason_translations",
        "reviewer",
        lambda w: [f"/proposals/{p}/reason-translations" for p in w.r1["submitted"]],
        lambda w: [
            Field("language", "select", "cy"),
            Field("screening_reason", "text", "Dyfynbris ar gyfer y meinciau, os gwelwch yn dda."),
        ],
    ),
    FormSpec(
        "proposal_translations",
        "member",
        lambda w: f"/proposals/{w.r1['draft']}/translations",
        lambda w: [
            Field("language", "select", "cy"),
            Field("title", "text", "Meinciau wrth y pwll"),
            Field("summary", "text", "Dwy fainc."),
            Field("description", "text", "Byddwn yn adeiladu dwy fainc."),
            Field("beneficiaries", "text", "Pawb"),
        ],
    ),
    # residents' questions on a proposal in R1 (taking proposals), the group's answers, moderation
    FormSpec(
        "ask_signed_in",
        "plain",
        lambda w: f"/proposals/{w.r1['asked']}/ask",
        lambda w: [Field("text", "text", "Will there be shade?"), Field("display_name", "text", "Pat")],
        pinned=[{"text": "a\x00b"}, {"text": "<script>alert(1)</script>"}],
    ),
    FormSpec(
        "ask_by_email",
        "fresh",
        lambda w: f"/proposals/{w.r1['asked']}/ask",
        lambda w: [
            Field("text", "text", "Is it near the bus stop?"),
            Field("display_name", "text", ""),
            Field("email", "email", unique("asker-{}@example.org")),
        ],
        page=lambda w: f"/proposals/{w.r1['asked']}/ask",
        pinned=[{"display_name": "a\x00b"}],
    ),
    FormSpec(
        "ask_code",
        "question_challenge",
        lambda w: f"/proposals/{w.r1['asked']}/ask/code",
        lambda w: [Field("code", "text", "123456")],
    ),
    FormSpec(
        "answer",
        "member",
        lambda w: f"/questions/{w.r1['question']}/answer",
        lambda w: [Field("text", "text", "Yes, under the oak trees.")],
        pinned=[{"text": "a\x00b"}],
    ),
    FormSpec(
        "moderate_question",
        "council",
        lambda w: [
            f"/questions/{w.r1['question']}/{action}/{part}"
            for action in ("hide", "show")
            for part in ("question", "answer")
        ],
        lambda w: [Field("reason", "text", "Names a private person.")],
        pinned=[{"reason": "a\x00b"}],
    ),
    FormSpec(
        "proposal_submit",
        "member",
        lambda w: [f"/proposals/{p}/{action}" for p in w.r1["spare"] for action in ("submit", "withdraw", "restore")],
        lambda w: [],
    ),
    FormSpec(
        "screen",
        "reviewer",
        lambda w: [f"/proposals/{p}/screen" for p in w.r1["submitted"]],
        lambda w: [
            Field("decision", "select", "returned"),
            Field("reason", "text", "Please add a quote for the benches."),
        ],
        pinned=[{"reason": "a\x00b"}],
    ),  # PostgreSQL: NUL byte
    FormSpec(
        "screeners",
        "council",
        lambda w: f"/rounds/{w.r1['round']}/screeners",
        lambda w: [Field("email", "email", PLAIN)],
    ),
    FormSpec(
        "screeners_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/screeners",
        lambda w: [Field("email", "email", PLAIN)],
        examples=8,
    ),
    # voting (R2 is open for voting)
    FormSpec(
        "codes",
        "council",
        lambda w: f"/rounds/{w.r0['round']}/codes",
        lambda w: [Field("area", "select", str(w.r0["areas"]["North"])), Field("count", "int", "3")],
    ),
    FormSpec(
        "codes_frozen",
        "council",
        lambda w: f"/rounds/{w.r2['round']}/codes",
        lambda w: [Field("area", "select", "0"), Field("count", "int", "3")],
        examples=8,
    ),
    FormSpec(
        "helpers", "council", lambda w: f"/rounds/{w.r2['round']}/helpers", lambda w: [Field("email", "email", PLAIN)]
    ),
    FormSpec(
        "vote_code",
        "anon",
        lambda w: f"/rounds/{w.r2['round']}/vote/code",
        lambda w: [Field("code", "text", lambda w: w.spare_code())],
    ),
    FormSpec(
        "vote_declared",
        "anon",
        lambda w: f"/rounds/{w.r2['round']}/vote/declare",
        lambda w: [
            Field("name", "text", "Sam Resident"),
            Field("address", "text", "12 High Street"),
            Field("postcode", "postcode", "LS6 1AA"),
            Field("declaration", "bool", "y"),
        ],
    ),
    FormSpec(
        "vote_email",
        "anon",
        lambda w: f"/rounds/{w.r2['round']}/vote/email",
        lambda w: [Field("email", "email", unique("voter-{}@example.org")), Field("postcode", "postcode", "LS11 5AA")],
    ),
    FormSpec(
        "vote_email_code",
        "voting_challenge",
        lambda w: f"/rounds/{w.r2['round']}/vote/email/code",
        lambda w: [Field("code", "text", "123456")],
    ),
    FormSpec(
        "vote_sms",
        "anon",
        lambda w: f"/rounds/{w.r2['round']}/vote/sms",
        lambda w: [Field("mobile", "tel", unique("07700 9{:05d}")), Field("postcode", "postcode", "LS11 5AA")],
    ),
    FormSpec(
        "vote_sms_code",
        "sms_challenge",
        lambda w: f"/rounds/{w.r2['round']}/vote/sms/code",
        lambda w: [Field("code", "text", "123456")],
    ),
    FormSpec(
        "ballot_approval",
        "voter_north",
        lambda w: f"/rounds/{w.r2['round']}/vote/{w.r2['contests']['North']}",
        lambda w: [
            Field("project", "multi", [str(p) for p in w.r2["projects"]["North"][:2]]),
            Field("confirm", "control", "1"),
            Field("change", "control", None),
        ],
        pinned=[{"project": "²"}],
    ),  # '²'.isdigit() is True, int('²') raises ValueError
    FormSpec(
        "ballot_ranked",
        "voter_south",
        lambda w: f"/rounds/{w.r2['round']}/vote/{w.r2['contests']['South']}",
        lambda w: [
            *[
                Field(f"rank_{p}", "select", str(n + 1) if n < 3 else "")
                for n, p in enumerate(w.r2["projects"]["South"])
            ],
            Field("confirm", "control", "1"),
            Field("change", "control", None),
        ],
        pinned=[{"rank_*": "²"}, {"rank_*": "9" * 5000}],
    ),  # the first project's rank: isdigit() passes, int() raises
    FormSpec(
        "equality_answers",
        "voter_answering",
        lambda w: f"/rounds/{w.r2['round']}/vote/about-you",
        lambda w: [
            Field("age", "select", "25_34"),
            Field("disability", "select", "limited_a_little"),
            Field("ethnic_group", "select", "white_roma"),
        ],
        pinned=[{"ethnic_group": "martian"}, {"age": "not_answered"}, {"disability": "prefer_not_to_say "}],
    ),  # the first answers are counted; the rest meet "already answered" (or a refusal of a value not offered)
    FormSpec(
        "paper",
        "helper",
        lambda w: f"/rounds/{w.r2['round']}/paper",
        lambda w: [Field("code", "text", lambda w: w.spare_code())],
    ),
    # results (R3 is published)
    FormSpec(
        "receipt_check",
        "anon",
        lambda w: f"/rounds/{w.r3['round']}/results/receipt",
        lambda w: [Field("receipt", "text", lambda w: w.r3["receipt"])],
    ),
    FormSpec(
        "recount",
        "council",
        lambda w: f"/rounds/{w.r3['round']}/recount",
        lambda w: [Field("rule", "select", "")],
        examples=8,
    ),
    # delivery and residents' verdicts (R3)
    FormSpec(
        "delivery_update",
        "member",
        lambda w: f"/projects/{w.r3['funded'][0]}/update",
        update_fields,
        pinned=[
            {"spend-0-amount": "30,000,000"},  # PostgreSQL: delivery_update.spent past a 32-bit integer
            {"note": "a\x00b"},  # PostgreSQL: NUL byte
            {"milestones-1-title": "<svg/onload=alert(1)>"},  # "Give a date for “<svg...>”" unescaped
            {"spend-1-item": "<script>alert(1)</script>"},  # "Give an amount for “<script>...”" unescaped
            {
                "__extras__": [("a\r", "1")],
                "__encoding__": "multipart",
            },  # a part whose name breaks its header: a None key
        ],
    ),
    FormSpec(
        "prove_code",
        "anon",
        lambda w: f"/rounds/{w.r3['round']}/residents/code",
        lambda w: [Field("code", "text", lambda w: w.r3["codes"][0])],
    ),
    FormSpec(
        "prove_email",
        "anon",
        lambda w: f"/rounds/{w.r3['round']}/residents/email",
        lambda w: [Field("email", "email", VOTER_EMAIL)],
    ),
    FormSpec(
        "prove_email_code",
        "verdict_challenge",
        lambda w: f"/rounds/{w.r3['round']}/residents/email/code",
        lambda w: [Field("code", "text", "123456")],
    ),
    FormSpec(
        "verdict",
        "resident",
        lambda w: f"/projects/{w.r3['funded'][0]}/verdict",
        lambda w: [
            Field("answer", "select", "partly"),
            Field("comment", "text", "The benches are lovely but there are only four."),
        ],
        pinned=[{"comment": "a\x00b"}],
    ),  # PostgreSQL: NUL byte, from any resident
    FormSpec(
        "hide",
        "council",
        lambda w: [f"/verdicts/{v}/hide" for v in w.r3["verdicts"]],
        lambda w: [Field("reason", "text", "Names a private person.")],
        pinned=[{"reason": "a\x00b"}],
    ),  # PostgreSQL: NUL byte
    # posts that carry nothing but the CSRF token (and whatever else is sent)
    FormSpec("sign_out", "fresh", lambda w: "/sign-out", lambda w: [], examples=6, page=lambda w: "/"),
    FormSpec(
        "vote_finish",
        "fresh",
        lambda w: f"/rounds/{w.r2['round']}/vote/finish",
        lambda w: [],
        examples=6,
        page=lambda w: "/",
    ),
    FormSpec(
        "next_phase", "council", lambda w: f"/rounds/{w.rt['round']}/phase", lambda w: [], examples=8
    ),  # last: it moves RT on
    FormSpec(
        "delete_draft", "council", lambda w: f"/rounds/{w.draft}/delete", lambda w: [], examples=8
    ),  # it deletes the draft
]


# ---------------------------------------------------------------- one submission, drawn by hypothesis

MODES = ("hostile", "hostile", "hostile", "missing", "repeat", "empty")
CSRF_MODES = ("valid",) * 12 + ("missing", "garbage", "repeated", "other-session")
ENCODINGS = ("form",) * 12 + ("multipart", "json", "raw")
EXTRA_NAMES = [
    "is_platform_admin",
    "id",
    "user_id",
    "round_id",
    "phase",
    "organisation_id",
    "csrf_token",
    "confirm",
    "change",
    "action",
    "__proto__",
    "password_hash",
    "status",
    "project",
    "next",
    "photo",
    "submit",
]
RAW_TYPES = [
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "application/json",
    "text/plain",
    "application/octet-stream",
    "application/x-www-form-urlencoded; charset=utf-16",
]


@dataclass
class Submission:
    fields: list[tuple[str, str, list]] = field(default_factory=list)  # (name, mode, hostile values)
    extras: list[tuple[str, Any]] = field(default_factory=list)
    csrf: str = "valid"
    garbage: str = ""
    encoding: str = "form"
    raw: bytes = b""
    raw_type: str = ""
    ip: str = "127.0.0.1"
    url_pick: int = 0

    def __repr__(self):  # hypothesis prints this for a failing example: keep it readable
        attacked = [
            f"{name}={mode}:{', '.join(short(v) for v in values)}"
            for name, mode, values in self.fields
            if mode != "valid"
        ]
        extras = [f"{short(k, 30)}={short(v)}" for k, v in self.extras]
        return (
            f"Submission(attacked=[{'; '.join(attacked)}], extras=[{'; '.join(extras)}], csrf={self.csrf}, "
            f"encoding={self.encoding}{' ' + short(self.raw) + ' as ' + self.raw_type if self.encoding == 'raw' else ''}, "
            f"ip={self.ip}, url_pick={self.url_pick})"
        )


IPS = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)


@st.composite
def submissions(draw, fields: list[Field]):
    sub = Submission()
    # One field (the rest valid, so the input reaches the services and the database), a few
    # fields, or every field at once.
    style = draw(st.sampled_from(["one", "one", "some", "some", "all"])) if fields else "some"
    target = draw(st.integers(0, len(fields) - 1)) if style == "one" else -1
    share = min(500, 2500 // max(1, len(fields)))  # "some": about two or three fields, in per mille
    for n, f in enumerate(fields):
        attacked = n == target if style == "one" else style == "all" or draw(st.integers(0, 999)) >= 1000 - share
        if not attacked:
            sub.fields.append((f.name, "valid", []))
            continue
        mode = draw(st.sampled_from(MODES[:4] if style == "one" else MODES))
        values = []
        if mode == "hostile":
            values = [draw(hostile_value(f.kind))]
        elif mode == "repeat":
            values = draw(st.lists(hostile_value(f.kind), min_size=1, max_size=3))
        sub.fields.append((f.name, mode, values))
    sub.extras = draw(st.lists(st.tuples(st.one_of(st.sampled_from(EXTRA_NAMES), TEXT), _hostile_text()), max_size=3))
    sub.csrf = draw(st.sampled_from(CSRF_MODES))
    if sub.csrf in ("garbage", "repeated"):
        sub.garbage = draw(_hostile_text())
    sub.encoding = draw(st.sampled_from(ENCODINGS))
    if sub.encoding == "raw":
        sub.raw = draw(
            st.one_of(
                st.binary(max_size=2000),
                st.sampled_from(
                    [
                        b"%",
                        b"a=%zz&b=%",
                        b"=&=&&==",
                        b"\xff\xfe\x00",
                        b"--xyz\r\nContent-Disposition: form-data\r\n\r\n",
                        b"a=" + b"%41" * 30000,
                    ]
                ),
            )
        )
        sub.raw_type = draw(st.sampled_from(RAW_TYPES))
    sub.ip = draw(IPS)
    sub.url_pick = draw(st.integers(0, 50))
    return sub


def pinned_submission(fields: list[Field], values: dict) -> Submission:
    """Every field valid but those given ('rank_*': the first field whose name starts 'rank_';
    '__extras__': fields the form does not have; '__encoding__': how the body is sent)."""
    values = dict(values)
    extras, encoding = values.pop("__extras__", []), values.pop("__encoding__", "form")
    chosen = {}
    for key, value in values.items():
        name = next(f.name for f in fields if f.name == key or (key.endswith("*") and f.name.startswith(key[:-1])))
        chosen[name] = value
    return Submission(
        fields=[(f.name, "hostile", [chosen[f.name]]) if f.name in chosen else (f.name, "valid", []) for f in fields],
        extras=extras,
        encoding=encoding,
    )


def build_pairs(sub: Submission, fields: list[Field], world: World, token: str) -> list[tuple[str, Any]]:
    by_name = {f.name: f for f in fields}
    pairs: list[tuple[str, Any]] = []
    for name, mode, values in sub.fields:
        f = by_name[name]
        valid = f.valid(world) if callable(f.valid) else f.valid
        valid_list = [] if valid is None else valid if isinstance(valid, list) else [valid]
        if mode == "valid":
            chosen = valid_list
        elif mode == "missing":
            chosen = []
        elif mode == "empty":
            chosen = [""]
        elif mode == "repeat":
            chosen = valid_list[:1] + values if sub.url_pick % 2 else values + valid_list[:1]
        else:
            chosen = values
        pairs += [(name, value) for value in chosen]
    pairs += sub.extras
    if sub.csrf == "valid":
        pairs.append(("csrf_token", token))
    elif sub.csrf == "garbage":
        pairs.append(("csrf_token", sub.garbage))
    elif sub.csrf == "repeated":
        pairs += [("csrf_token", sub.garbage), ("csrf_token", token)]
    elif sub.csrf == "other-session":
        pairs.append(("csrf_token", world.stranger_token))
    return pairs


def send(http, url: str, pairs: list[tuple[str, Any]], sub: Submission):
    environ = {"REMOTE_ADDR": sub.ip}
    if sub.encoding == "raw":
        return http.post(url, data=sub.raw, content_type=sub.raw_type, environ_overrides=environ)
    if sub.encoding == "json":
        return http.post(url, json={k: v for k, v in pairs if not isinstance(v, tuple)}, environ_overrides=environ)
    has_file = any(isinstance(value, tuple) for _key, value in pairs)
    if sub.encoding == "multipart" or has_file:
        # Encoded here, in memory: Werkzeug's test client spools a large body to a
        # temporary file it never closes (a ResourceWarning, which this suite treats as an error).
        data = MultiDict()
        for key, value in pairs:
            if isinstance(value, tuple):
                content, filename, mimetype = value
                value = FileStorage(
                    io.BytesIO(content), filename=filename, content_type=mimetype or "application/octet-stream"
                )
            data.add(key, value)
        boundary, body = encode_multipart(data)
        return http.post(
            url, data=body, content_type=f"multipart/form-data; boundary={boundary}", environ_overrides=environ
        )
    return http.post(url, data=MultiDict(pairs), environ_overrides=environ)


# ---------------------------------------------------------------- the arranged world


class Tracebacks(logging.Handler):
    """Keeps the tracebacks the app logs for its 500s, so a report can quote them."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record):
        if record.exc_info:
            self.seen.append("".join(traceback.format_exception(*record.exc_info)))


@dataclass(repr=False)
class World:
    app: Any
    backend: str
    engine: Any = None
    org: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)
    r0: dict = field(default_factory=dict)
    rt: dict = field(default_factory=dict)
    r1: dict = field(default_factory=dict)
    r2: dict = field(default_factory=dict)
    r3: dict = field(default_factory=dict)
    r4: dict = field(default_factory=dict)
    draft: int = 0  # a draft round, to delete
    invitation: str = ""
    stranger_token: str = ""
    tracebacks: Tracebacks = field(default_factory=Tracebacks)

    def __repr__(self):
        return f"World({self.backend})"

    # -------- database helpers

    def db(self, write=True):
        from pb.db import session_scope

        return session_scope(self.engine, write=write)

    def first_id(self, table: str, round_id: int) -> int:
        from pb.rounds.models import Category, CharterObjective

        model = {"category": Category, "charter_objective": CharterObjective}[table]
        with self.db(write=False) as session:
            return session.exec(select(model.id).where(model.round_id == round_id).order_by(model.id)).first() or 0

    def pot_amount(self, pot_id: int) -> int:
        from pb.rounds.models import Pot

        with self.db(write=False) as session:
            return session.get(Pot, pot_id).amount

    def allowed_status(self, project_id: int) -> str:
        from pb.delivery import services as delivery
        from pb.delivery.models import DeliveryStatus

        with self.db(write=False) as session:
            latest = delivery.latest_updates(session, [project_id]).get(project_id)
            current = delivery.current_status(latest)
        return current.value if current in (DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED) else "in_progress"

    def spare_code(self) -> str:
        """An unused voting code of R2's North area while any is left (each use spends one)."""
        return self.r2["codes"].pop() if len(self.r2["codes"]) > 1 else self.r2["codes"][0]

    def reset_token(self) -> str:
        from pb.accounts import services

        with self.app.test_request_context(), self.db(write=False) as session:
            return services.password_reset_token(services.find_user(session, FORGETFUL))

    def news_token(self, kind: str) -> str:
        """A link mailed to a resident who asked for R2's news: to confirm, or to stop it."""
        from pb.notices import services
        from pb.rounds.models import Round

        with self.app.test_request_context(), self.db(write=False) as session:
            if kind == "confirm":
                return services.confirm_token(session.get(Round, self.r2["round"]), "resident@example.org")
            return services.stop_token(self.r2["round"], "resident@example.org")

    def sign_up_token(self) -> str:
        """A fresh link's token for an address no account has (each valid sign-up spends one)."""
        from pb.accounts import services

        with self.app.test_request_context():
            return services.sign_up_token(unique("joiner-{}@example.org")(self), "New Person")

    def settle(self) -> None:
        """Make any move a round's timeline says is due, as the next request would, so that
        a date set by an earlier example is not taken for a write by this one."""
        from pb.lifecycle import advance_due_rounds

        with self.app.test_request_context():
            advance_due_rounds(self.engine)

    def snapshot(self) -> dict:
        """Every table's rows (keyed by primary key) and the stored uploads."""
        state = {}
        with self.engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                keys = list(table.primary_key.columns) or list(table.columns)
                names = [c.name for c in table.columns]
                key_at = [names.index(c.name) for c in keys]
                found = {}
                for row in conn.execute(sa_select(table).order_by(*keys)):
                    found[tuple(row[i] for i in key_at)] = tuple(row)
                state[table.name] = (names, found)
            conn.rollback()
        folder = Path(self.app.instance_path) / "uploads" / "proposals"
        state["files:uploads"] = (["name"], {(n,): (n,) for n in sorted(os.listdir(folder))} if folder.exists() else {})
        return state

    def chains_verify(self) -> list[str]:
        from pb.audit.chain import all_chains
        from pb.verify.chain import verify_chain

        with self.db(write=False) as session:
            return [
                f"{key}: {result.problem}"
                for key in all_chains(session)
                if not (result := verify_chain(session, key)).ok
            ]

    def client(self, who: str, page: str | None) -> tuple[Any, str]:
        if who == "fresh":
            browser = FormClient(self.app)
            return browser.http, browser.csrf_token(page or "/")
        browser, token = self.clients[who]
        return browser.http, token


def _make_user(app, db, email, *, admin=False, organisation=None, kind="anchor"):
    from pb.accounts import services
    from pb.accounts.models import Organisation

    with app.test_request_context(), db() as session:
        person = services.create_user(
            session, email=email, name=email.split("@")[0].title(), password=PASSWORD, is_platform_admin=admin
        )
        if organisation:
            org = session.exec(select(Organisation).where(Organisation.name == organisation)).first()
            if org is None:
                org = services.create_organisation(
                    session,
                    actor=person,
                    name=organisation,
                    kind=kind,
                    subtype="local_authority" if kind == "anchor" else "charity",
                )
            services.add_member(session, actor=person, organisation=org, user=person)


def _content(contest_id: int, title: str, cost: int):
    from pb.proposals import services as proposals

    return proposals.ProposalContent(
        contest_id=contest_id,
        title=title,
        summary="A plain summary.",
        description="",
        beneficiaries="",
        category_id=None,
        postcode=None,
        cost_lines=[("Everything", cost)],
        objective_ids=[],
    )


def build_world(app, backend: str) -> World:
    from pb import lifecycle
    from pb.accounts import services as accounts
    from pb.delivery import services as delivery
    from pb.delivery import verdicts
    from pb.equality import services as equality
    from pb.proposals import services as proposals
    from pb.proposals.models import Project
    from pb.questions import services as questions
    from pb.rounds import services as rounds
    from pb.rounds.models import Area, Contest, Pot, Round
    from pb.voting import services as voting
    from pb.voting.models import Voter

    w = World(app=app, backend=backend, engine=app.extensions["pb_engine"])
    db = w.db
    app.logger.addHandler(w.tracebacks)
    _make_user(app, db, ADMIN, admin=True)
    _make_user(app, db, COUNCIL, organisation="Eastshire Council")
    _make_user(app, db, TRUST, organisation="Eastshire NHS Trust")
    _make_user(app, db, CITY, organisation="City University")
    _make_user(app, db, MEMBER, organisation="Friends of the Park", kind="group")
    _make_user(app, db, OTHER, organisation="Other Group", kind="group")
    for email in (REVIEWER, HELPER, PLAIN, FORGETFUL, JOINER):
        _make_user(app, db, email)
    with db(write=False) as session:
        w.org = {
            name: organisation(session, name).id
            for name in (
                "Eastshire Council",
                "Eastshire NHS Trust",
                "City University",
                "Friends of the Park",
                "Other Group",
            )
        }

    def pot_of(r: dict, area: str) -> int:
        with db(write=False) as session:
            return session.exec(select(Pot.id).where(Pot.contest_id == r["contests"][area])).first()

    # R0 (setting-up forms) and RT (timeline form) take proposals.
    w.r0 = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")
    w.r0["pot"] = pot_of(w.r0, "North")
    w.rt = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")
    w.r4 = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")  # new proposals (no limit per project)
    with app.test_request_context(), db() as session:
        w.draft = rounds.create_round(
            session,
            actor=user(session, COUNCIL),
            organisation=organisation(session, "Eastshire Council"),
            title="A draft to delete",
        ).id

    # R1 takes proposals: a draft to edit, submitted ones to screen, drafts to submit.
    w.r1 = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council", max_project_cost=30_000_00)
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, w.r1["round"])
        member, park = user(session, MEMBER), organisation(session, "Friends of the Park")
        north = w.r1["contests"]["North"]
        made = [
            proposals.create_proposal(
                session,
                round_,
                actor=member,
                organisation=park,
                content=_content(north, f"Idea {n}", 1_000_00 * (n + 1)),
            )
            for n in range(14)
        ]
        for proposal in made[1:8]:
            proposals.submit_proposal(session, proposal, actor=member)
        proposals.appoint_screener(session, round_, actor=user(session, COUNCIL), user=user(session, REVIEWER))
        session.flush()
        w.r1.update(draft=made[0].id, submitted=[p.id for p in made[1:8]], spare=[p.id for p in made[8:]])
        # A proposal residents ask about (nobody screens it), with a question the group answered.
        asked = proposals.create_proposal(
            session,
            round_,
            actor=member,
            organisation=park,
            content=_content(north, "Shade for the playground", 900_00),
        )
        proposals.submit_proposal(session, asked, actor=member)
        question = questions.ask(session, asked, user=user(session, PLAIN), text="How many trees?")
        questions.answer(session, question, actor=member, text="Twelve.")
        w.r1.update(asked=asked.id, question=question.id)
        round_.other_locales = "cy"  # its text and its proposals' may be given in Welsh too

    # R2: voting is open (codes, email, declared identity and paper); South is a ranked ballot.
    w.r2 = make_round(
        app,
        db,
        convener=COUNCIL,
        anchor="Eastshire Council",
        methods=("codes", "email", "declared", "paper", "sms"),
        south_ballot="ranked",
    )
    w.r2["pot"] = pot_of(w.r2, "North")
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, w.r2["round"])
        equality.set_monitoring(session, round_, actor=user(session, COUNCIL), on=True)
        w.r2["codes"] = [
            code
            for code, _letter in voting.generate_codes(
                session,
                round_,
                actor=officer(session, round_, COUNCIL),
                area=session.get(Area, w.r2["areas"]["North"]),
                count=60,
            )
        ]
        voting.appoint_helper(session, round_, actor=officer(session, round_), user=user(session, HELPER))
    open_voting(
        app, db, w.r2, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park", per_contest=4
    )
    with db(write=False) as session:
        w.r2["projects"] = {
            area: [p.id for p in session.exec(select(Project).where(Project.contest_id == cid).order_by(Project.id))]
            for area, cid in w.r2["contests"].items()
        }

    # R3: voted, counted and published; residents give verdicts.
    w.r3 = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council", methods=("codes", "email"))
    w.r3["codes"] = make_codes(app, db, w.r3["round"], w.r3["areas"]["North"], count=6)
    open_voting(
        app, db, w.r3, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park", per_contest=4
    )
    rng = random.Random(7)
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, w.r3["round"])
        voters = [voting.voter_by_code(session, round_, code, client="setup") for code in w.r3["codes"][:2]]
        challenge, code = voting.start_email_challenge(
            session, round_, email=VOTER_EMAIL, postcode="LS11 5AA", client="setup"
        )
        voters.append(voting.voter_by_email_code(session, round_, challenge.id, code, client="setup"))
        for n in range(16):
            voter = Voter(
                round_id=round_.id,
                area_id=w.r3["areas"]["North" if n % 2 else "South"],
                method="declared",
                identity=f"v{n}",
            )
            session.add(voter)
            voters.append(voter)
        session.flush()
        receipts = []
        for voter in voters:
            contest = session.get(
                Contest, w.r3["contests"]["North" if voter.area_id == w.r3["areas"]["North"] else "South"]
            )
            projects = [
                p.id for p in session.exec(select(Project).where(Project.contest_id == contest.id).order_by(Project.id))
            ]
            picks = {rng.choices(projects, [9, 6, 3, 1])[0] for _ in range(2)}
            receipts.append(voting.cast_ballot(session, voter, contest, {pid: None for pid in picks}).receipt)
        lead = user(session, COUNCIL)
        let_voting_close(session, round_)
        lifecycle.move_to_next_phase(session, round_, actor=lead)  # publish
        w.r3["funded"] = sorted(delivery.funded_project_ids(session, round_))
        w.r3["receipt"] = receipts[0]
        assert len(w.r3["funded"]) >= 2
        project = session.get(Project, w.r3["funded"][0])
        made = []
        for n, code in enumerate(w.r3["codes"][2:5]):
            resident = verdicts.resident_by_code(session, round_, code, client="setup")
            made.append(verdicts.give_verdict(session, project, resident=resident, answer="no", comment=f"Comment {n}"))
        session.flush()
        w.r3["verdicts"] = [v.id for v in made]
        # An invitation for JOINER to accept.
        w.invitation = accounts.invite_member(
            session,
            actor=user(session, MEMBER),
            organisation=organisation(session, "Friends of the Park"),
            email=JOINER,
        )

    # Browsers: signed in for each role, and residents part-way through their journeys.
    def signed_in(email):
        browser = FormClient(app)
        browser.sign_in(email, PASSWORD)
        return browser

    def started(url, data, page):
        browser = FormClient(app)
        response = browser.submit(url, data, page=page)
        assert response.status_code in (302, 303), (url, response.status_code, response.get_data(as_text=True)[:500])
        return browser

    r2, r3 = w.r2["round"], w.r3["round"]
    browsers = {
        "anon": FormClient(app),
        "admin": signed_in(ADMIN),
        "council": signed_in(COUNCIL),
        "member": signed_in(MEMBER),
        "reviewer": signed_in(REVIEWER),
        "helper": signed_in(HELPER),
        "plain": signed_in(PLAIN),
        "joiner": signed_in(JOINER),
        "voter_north": started(f"/rounds/{r2}/vote/code", {"code": w.r2["codes"].pop()}, f"/rounds/{r2}/vote"),
        "voter_south": started(
            f"/rounds/{r2}/vote/declare",
            {"name": "Sam South", "address": "5 Low Road", "postcode": "LS11 5AA", "declaration": "y"},
            f"/rounds/{r2}/vote",
        ),
        "voting_challenge": started(
            f"/rounds/{r2}/vote/email", {"email": "someone@example.org", "postcode": "LS6 1AA"}, f"/rounds/{r2}/vote"
        ),
        "sms_challenge": started(
            f"/rounds/{r2}/vote/sms", {"mobile": "07700 900555", "postcode": "LS6 1AA"}, f"/rounds/{r2}/vote"
        ),
        "resident": started(f"/rounds/{r3}/residents/code", {"code": w.r3["codes"][5]}, f"/rounds/{r3}/residents"),
        "question_challenge": started(
            f"/proposals/{w.r1['asked']}/ask",
            {"text": "Who waters the trees?", "email": "asker@example.org"},
            f"/proposals/{w.r1['asked']}/ask",
        ),
        "verdict_challenge": started(
            f"/rounds/{r3}/residents/email", {"email": VOTER_EMAIL}, f"/rounds/{r3}/residents"
        ),
    }
    # A resident who has just cast a ballot, and is asked the equality questions.
    answering = started(f"/rounds/{r2}/vote/code", {"code": w.r2["codes"].pop()}, f"/rounds/{r2}/vote")
    north = f"/rounds/{r2}/vote/{w.r2['contests']['North']}"
    picked = {"project": str(w.r2["projects"]["North"][0])}
    assert answering.submit(north, picked).status_code == 200
    assert answering.submit(north, {**picked, "confirm": "1"}).status_code == 302
    browsers["voter_answering"] = answering
    w.clients = {who: (browser, browser.csrf_token("/")) for who, browser in browsers.items()}
    w.stranger_token = FormClient(app).csrf_token("/")
    return w


_databases = itertools.count()


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    """One arranged world per backend, shared by this module's web tests."""
    from pb import create_app

    backend = request.param
    folder = tmp_path_factory.mktemp(f"hostile-{backend}")
    admin = None
    if backend == "sqlite":
        path = folder / "pb.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"pb_hostile_{os.getpid()}_{next(_databases)}"
        admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE pb_template"))
        url = server.url(name)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": url,
            "SERVER_NAME": "localhost",
            "INSTANCE_PATH": str(folder / "instance"),
        }
    )
    built = build_world(app, backend)
    yield built
    app.logger.removeHandler(built.tracebacks)
    app.extensions["pb_engine"].dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# ---------------------------------------------------------------- the checks


def _rows(names, rows, limit=3):
    shown = [", ".join(f"{n}={short(v, 40)}" for n, v in zip(names, row, strict=False)) for row in list(rows)[:limit]]
    return "; ".join(f"({s})" for s in shown) + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def unexplained_changes(before: dict, after: dict) -> list[str]:
    """What a refused request changed that a refusal may not change.

    Left out on purpose, because a refusal must write them:
    - throttle_attempt: rate-limit counters; a wrong password or code is counted precisely
      because it is refused (pb/throttle.py);
    - a new audit_event 'round.change_refused', and its chain's audit_chain_head row: a
      change to a frozen round is refused with a Refusal whose event is its record, kept
      after the rollback (pb/refusal.py, pb/db.py; pb/rounds/freeze.py guard_unfrozen);
    - email_challenge.tries going up by one: a wrong one-time code is a WrongAnswer (also a
      Refusal), whose record counts it, so that a challenge stops after a few wrong guesses.
    Timeline moves (round.phase_changed by "timeline") are made before each request by
    World.settle, so they never show up here.
    """
    problems = []
    refused_chains = set()
    for table, (names, was) in before.items():
        if table == "throttle_attempt":
            continue
        now = after[table][1]
        if now == was:
            continue
        added = [k for k in now if k not in was]
        removed = [k for k in was if k not in now]
        changed = [k for k in was if k in now and now[k] != was[k]]
        if table == "audit_event":
            action = names.index("action")
            other = [now[k] for k in added if now[k][action] != "round.change_refused"]
            refused_chains |= {now[k][names.index("chain")] for k in added if now[k][action] == "round.change_refused"}
            if other or removed or changed:
                problems.append(
                    f"audit_event: added {_rows(names, other)}; removed {len(removed)}; changed {len(changed)}"
                )
            continue
        if table == "email_challenge" and not added and not removed:
            tries = names.index("tries")
            wrong = [
                k
                for k in changed
                if [i for i, (a, b) in enumerate(zip(was[k], now[k], strict=False)) if a != b] != [tries]
                or now[k][tries] != was[k][tries] + 1
            ]
            if wrong or len(changed) > 1:
                problems.append(f"email_challenge: changed {_rows(names, [now[k] for k in changed])}")
            continue
        if table == "audit_chain_head":
            continue  # checked below, once the refusals' chains are known
        problems.append(
            f"{table}: added {_rows(names, [now[k] for k in added])}; removed {_rows(names, [was[k] for k in removed])}; "
            f"changed {_rows(names, [now[k] for k in changed])}"
        )
    names, was = before["audit_chain_head"]
    now = after["audit_chain_head"][1]
    moved = [k for k in now if was.get(k) != now[k] and k[0] not in refused_chains] + [k for k in was if k not in now]
    if moved:
        problems.append(f"audit_chain_head: moved {moved}")
    return problems


def test_the_snapshot_notices_a_partial_write_and_allows_the_intended_ones(world):
    """The check itself: a row written in any table is noticed, except the writes a
    refusal makes on purpose (rate-limit counters, a refusal's audit event)."""
    from pb.accounts.models import Organisation
    from pb.audit.chain import record_event
    from pb.throttle import note_attempt

    before = world.snapshot()
    with world.app.test_request_context(), world.db() as session:
        note_attempt(session, "self-test")
        record_event(session, "round.change_refused", round_id=world.r2["round"], data={"attempted": "self-test"})
    allowed = world.snapshot()
    assert unexplained_changes(before, allowed) == []
    with world.db() as session:
        session.add(Organisation(name="Written by a refused request", kind="group", subtype="charity"))
    problems = unexplained_changes(allowed, world.snapshot())
    assert len(problems) == 1, problems
    assert problems[0].startswith("organisation: added"), problems
    with world.app.test_request_context(), world.db() as session:
        record_event(session, "round.updated", round_id=world.r2["round"], data={"self-test": True})
    assert [p.split(":")[0] for p in unexplained_changes(allowed, world.snapshot())] == [
        "organisation",
        "audit_event",
        "audit_chain_head",
    ]


class Findings:
    """Failures seen during one test, kept (one per kind, with its shortest input) so that
    hypothesis carries on trying inputs after the first, and asserted at the end."""

    def __init__(self, area: str, backend: str):
        self.area, self.backend = area, backend
        self.seen: dict[str, list] = {}  # kind -> [count, report, cause]

    def add(self, kind: str, report: str, cause: str | None = None) -> None:
        entry = self.seen.setdefault(kind, [0, report, cause or kind])
        entry[0] += 1
        if len(report) < len(entry[1]):
            entry[1] = report

    def check(self) -> None:
        reports = [f"{report}\n  (seen {count} times)" for count, report, _cause in self.seen.values()]
        FINDINGS.extend((cause, report.splitlines()[0]) for _count, report, cause in self.seen.values())
        assert not reports, f"{len(reports)} kinds of failure:\n\n" + "\n\n".join(reports)


def tail(tb: str, frames: int = 3) -> str:
    """The last few frames in pb's own code, and the exception."""
    if not tb:
        return "    (no traceback logged)"
    lines = tb.strip().splitlines()
    ours = [
        n
        for n, line in enumerate(lines)
        if line.lstrip().startswith("File ") and "/pb/" in line and "/.venv/" not in line
    ]
    shown = []
    for n in ours[-frames:]:
        shown += [lines[n].strip(), "  " + lines[n + 1].strip()] if n + 1 < len(lines) else [lines[n].strip()]
    return "\n".join("    " + line for line in [*shown, "...", exception_line(tb)])


def exception_line(tb: str) -> str:
    """The 'SomeError: message' line (SQLAlchemy adds lines after it)."""
    found = [
        line
        for line in tb.strip().splitlines()
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Overflow\w*|Range)\b.*:", line)
    ]
    return found[-1][:300] if found else tb.strip().splitlines()[-1]


def check_response(
    findings: Findings, world: World, kind: str, what: str, response, before: dict | None, shown: str
) -> None:
    """Count the input; note a 500, a refusal that wrote something, or markup echoed unescaped."""
    status = response.status_code
    TRIED[(findings.area, world.backend)] += 1
    STATUSES[(findings.area, status)] += 1
    head = f"[{findings.area}/{world.backend}] {what}"
    if status >= 500:
        FIVE_HUNDREDS[(findings.area, world.backend)] += 1
        tb = world.tracebacks.seen[-1] if world.tracebacks.seen else ""
        last = exception_line(tb)[:120] if tb else "?"
        findings.add(
            f"{kind} 500 {last}",
            f"{head}: status {status}\n  input: {shown[:1500]}\n  traceback (last lines):\n{tail(tb)}",
            cause=f"500: {last}",
        )
    elif 400 <= status < 500 and before is not None:
        problems = unexplained_changes(before, world.snapshot())
        if problems:
            tables = sorted({p.split(":")[0] for p in problems})
            findings.add(
                f"{kind} write {tables}",
                f"{head}: refused with {status} but wrote: {problems}\n  input: {shown[:1500]}",
                cause=f"refused ({status}) but wrote {', '.join(tables)}",
            )
    if response.mimetype == "text/html":
        body = response.get_data(as_text=True)
        echoed = [payload for payload in XSS[:3] if payload in body]
        if echoed:
            findings.add(f"{kind} xss", f"{head}: markup echoed unescaped: {echoed}\n  input: {shown[:1500]}")


# ---------------------------------------------------------------- 1. every form


@pytest.mark.parametrize("spec", FORMS, ids=lambda spec: spec.name)
def test_every_form_answers_hostile_input_cleanly(world, spec):
    fields = spec.fields(world)
    findings = Findings("forms", world.backend)

    @settings(max_examples=scaled(spec.examples), **COMMON)
    @given(sub=submissions(fields))
    def attempt(sub):
        world.settle()
        http, token = world.client(spec.who, spec.page(world) if spec.page else None)
        urls = spec.url(world)
        url = urls[sub.url_pick % len(urls)] if isinstance(urls, list) else urls
        pairs = build_pairs(sub, fields, world, token)
        before = world.snapshot()
        response = send(http, url, pairs, sub)
        check_response(findings, world, spec.name, f"POST {url} ({spec.name})", response, before, repr(sub))

    for values in spec.pinned:  # bugs found: always tried, before the random inputs
        attempt = example(sub=pinned_submission(fields, values))(attempt)
    attempt()
    findings.check()
    assert world.chains_verify() == [], "an audit chain no longer verifies"


# ---------------------------------------------------------------- 2. query strings and path segments


def _query_value():
    return st.one_of(
        _hostile_text(), st.integers(-(10**30), 10**30).map(str), st.sampled_from(["-1", "0", "1", "2", "999999"])
    )


GET_ROUTES = [  # (who, url, the parameters the view reads)
    ("anon", lambda w: f"/rounds/{w.r1['round']}/proposals", ["area", "category", "q"]),
    ("anon", lambda w: f"/rounds/{w.r3['round']}/audit", ["action", "organisation", "page"]),
    ("anon", lambda w: f"/rounds/{w.r3['round']}/audit.csv", ["action", "organisation", "page"]),
    ("admin", lambda w: "/audit/platform", ["page", "action"]),
    ("anon", lambda w: "/sign-in", ["next"]),
    ("anon", lambda w: f"/rounds/{w.r3['round']}/residents", ["project"]),
    ("anon", lambda w: f"/rounds/{w.r3['round']}/residents/email/code", ["project"]),
    ("anon", lambda w: f"/rounds/{w.r2['round']}/vote", ["code"]),
    ("anon", lambda w: f"/rounds/{w.r3['round']}/results", ["contest", "page"]),
    ("anon", lambda w: f"/rounds/{w.r3['round']}/money", ["area", "category"]),
    ("anon", lambda w: f"/anchors/{w.org['Eastshire Council']}/report", ["round"]),
    ("council", lambda w: f"/rounds/{w.r0['round']}/manage", ["tab"]),
    ("member", lambda w: "/group", ["round"]),
]


@st.composite
def queries(draw):
    index = draw(st.integers(0, len(GET_ROUTES) - 1))
    known = GET_ROUTES[index][2]
    pairs = draw(st.lists(st.tuples(st.sampled_from(known), _query_value()), min_size=1, max_size=4))
    pairs += draw(st.lists(st.tuples(TEXT, _query_value()), max_size=2))  # parameters nobody reads
    raw = draw(
        st.sampled_from(["", "", "", "&&&", "=&=", "%", "%zz", "a[]=1&a[]=2", "page=1&page=-1", ";;", "%00=%00"])
    )
    return index, pairs, raw


def test_query_strings_never_give_a_500(world):
    findings = Findings("query", world.backend)

    @settings(max_examples=scaled(180), **COMMON)
    @given(query=queries())
    @example(query=(0, [("area", "99999999999999999999")], ""))  # an id past the database's integers
    @example(query=(0, [("category", "-9223372036854775809")], ""))
    @example(query=(0, [("area", "2147483648")], ""))  # one past a 32-bit id (PostgreSQL)
    @example(query=(1, [("page", "99999999999999999999")], ""))
    @example(query=(1, [("organisation", "99999999999999999999")], ""))
    def attempt(query):
        index, pairs, raw = query
        who, url, _known = GET_ROUTES[index]
        path = url(world)
        qs = urlencode(pairs) + ("&" + raw if raw else "")
        http = world.clients[who][0].http
        response = http.get(f"{path}?{qs}")
        shown = f"GET {path}?{short(qs, 400)}"
        check_response(findings, world, f"query {index}", shown, response, None, shown)
        if response.status_code in (301, 302, 303, 307, 308) and not _stays_here(response.headers["Location"]):
            findings.add(
                f"query {index} redirect", f"{shown} sends the browser off the site: {response.headers['Location']}"
            )

    attempt()
    findings.check()


def _stays_here(location: str) -> bool:
    parts = urlsplit(location)
    return parts.netloc in ("", "localhost") and not location.startswith(("//", "\\", "/\\"))


def test_sign_in_never_sends_anyone_off_the_site(world):
    """?next= after a successful sign-in: hostile targets fall back to the dashboard."""
    findings = Findings("query", world.backend)

    @settings(max_examples=scaled(25), **COMMON)
    @given(
        target=st.one_of(
            _hostile_text(),
            st.sampled_from(
                [
                    "//evil.example",
                    "/\\evil.example",
                    "\\\\evil.example",
                    "https://evil.example/",
                    "/\t/evil.example",
                    "/%2F/evil.example",
                    "/ /evil.example",
                    "javascript:alert(1)",
                    "\x00//evil.example",
                    "/\x00/evil.example",
                    "///evil.example",
                    " //evil.example",
                ]
            ),
        ),
        ip=IPS,
    )
    def attempt(target, ip):
        browser = FormClient(world.app)
        token = browser.csrf_token("/sign-in")
        response = browser.http.post(
            f"/sign-in?{urlencode({'next': target})}",
            data={"email": PLAIN, "password": PASSWORD, "csrf_token": token},
            environ_overrides={"REMOTE_ADDR": ip},
        )
        shown = f"sign in with next={short(target)}"
        check_response(findings, world, "next", shown, response, None, shown)
        if response.status_code != 302 or not _stays_here(response.headers.get("Location", "")):
            findings.add("next", f"{shown}: status {response.status_code}, to {response.headers.get('Location')}")

    attempt()
    findings.check()


BIG_INTS = st.one_of(st.integers(0, 2**31 + 5), st.integers(2**31 - 5, 2**63 + 5), st.integers(2**63, 10**40))
PATH_ROUTES = [  # (who, url template taking a segment, kind of segment)
    ("anon", lambda w, s: f"/reset-password/{s}", "text"),
    ("joiner", lambda w, s: f"/groups/invitations/{s}", "text"),
    ("anon", lambda w, s: f"/static/{s}", "text"),
    ("anon", lambda w, s: f"/rounds/{s}", "int"),
    ("anon", lambda w, s: f"/rounds/{s}/proposals", "int"),
    ("anon", lambda w, s: f"/rounds/{s}/help", "int"),
    ("anon", lambda w, s: f"/rounds/{s}/audit", "int"),
    ("anon", lambda w, s: f"/proposals/{s}", "int"),
    ("anon", lambda w, s: f"/proposals/{s}/photo", "int"),
    ("anon", lambda w, s: f"/projects/{s}", "int"),
    ("anon", lambda w, s: f"/projects/{w.r3['funded'][0]}/updates/{s}/photo", "int"),
    ("anon", lambda w, s: f"/anchors/{s}/report.csv", "int"),
    ("anon", lambda w, s: f"/rounds/{w.r3['round']}/results/{s}", "int"),
    ("anon", lambda w, s: f"/rounds/{w.r3['round']}/results/{s}/ballots.pb", "int"),
    ("admin", lambda w, s: f"/admin/organisations/{s}", "int"),
    ("member", lambda w, s: f"/groups/{s}", "int"),
    ("council", lambda w, s: f"/rounds/{s}/manage", "int"),
    ("voter_north", lambda w, s: f"/rounds/{w.r2['round']}/vote/{s}", "int"),
]


@st.composite
def segments(draw):
    index = draw(st.integers(0, len(PATH_ROUTES) - 1))
    if PATH_ROUTES[index][2] == "int":
        return index, str(draw(BIG_INTS))
    return index, quote(draw(_hostile_text()), safe="")


def test_path_segments_never_give_a_500(world):
    findings = Findings("paths", world.backend)

    @settings(max_examples=scaled(180), **COMMON)
    @given(segment=segments())
    @example(segment=(5, "99999999999999999999"))  # /rounds/<int> past the database's integers
    @example(segment=(5, "2147483648"))  # one past a 32-bit id
    @example(segment=(8, "9223372036854775808"))  # one past a 64-bit id
    def attempt(segment):
        index, value = segment
        who, url, _kind = PATH_ROUTES[index]
        path = url(world, value)
        response = world.clients[who][0].http.get(path)
        shown = f"GET {short(path, 200)}"
        check_response(findings, world, f"path {index}", shown, response, None, shown)

    attempt()
    findings.check()


# ---------------------------------------------------------------- 3. uploads


def _image(kind: str, size=(48, 32)) -> bytes:
    from PIL import Image

    picture = Image.effect_noise(size, 60).convert("RGB")
    out = io.BytesIO()
    picture.save(out, kind)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_bomb(width: int, height: int) -> bytes:
    """A small PNG whose header claims a huge picture (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


GOOD = {"JPEG": _image("JPEG"), "PNG": _image("PNG"), "WEBP": _image("WEBP")}
GIF = _image("GIF")
PHOTO_MESSAGES = (
    "The photo must be a JPEG, PNG or WebP image.",
    "This file is not a photo we can read",
    "The photo is too large",
)


@st.composite
def photos(draw):
    """(bytes, filename, what it is): 'good' files are real photos with an accepted name."""
    kind = draw(
        st.sampled_from(
            [
                "random",
                "truncated",
                "flipped",
                "huge",
                "too-large-for-request",
                "wrong-extension",
                "disguised",
                "bomb",
                "good",
                "good",
            ]
        )
    )
    if kind == "random":
        return draw(st.binary(max_size=5000)), draw(st.sampled_from(["photo.jpg", "photo.png", "photo.webp"])), kind
    if kind in ("truncated", "flipped", "good"):
        fmt = draw(st.sampled_from(sorted(GOOD)))
        data = GOOD[fmt]
        name = f"photo.{fmt.lower().replace('jpeg', draw(st.sampled_from(['jpg', 'jpeg'])))}"
        if kind == "truncated":
            data = data[: draw(st.integers(0, len(data) - 1))]
        elif kind == "flipped":
            data = bytearray(data)
            for at in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
                data[at] ^= draw(st.integers(1, 255))
            data = bytes(data)
        return data, name, kind
    if kind == "huge":  # a real JPEG padded past 5 MB, within the request limit
        return GOOD["JPEG"] + b"\x00" * (5 * 1024 * 1024), "photo.jpg", kind
    if kind == "too-large-for-request":
        return b"\xff\xd8\xff" + os.urandom(64) * (9 * 1024 * 1024 // 64), "photo.jpg", kind
    if kind == "wrong-extension":
        return (
            GOOD[draw(st.sampled_from(sorted(GOOD)))],
            draw(st.sampled_from(["photo.exe", "photo.gif", "photo", "photo.png.php", "photo.svg", "photo.jpg.exe"])),
            kind,
        )
    if kind == "disguised":  # a GIF or an SVG named as a JPEG
        return (
            draw(st.sampled_from([GIF, b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"])),
            "photo.jpg",
            kind,
        )
    side = draw(st.sampled_from([(10_000, 10_000), (30_000, 30_000), (2**31 - 1, 2**31 - 1), (1, 200_000_000), (0, 0)]))
    return _png_bomb(*side), "photo.png", "bomb"


UPLOAD_FORMS = {spec.name: spec for spec in FORMS if spec.name in ("proposal_new", "delivery_update")}


def readable_photo(data: bytes, filename: str) -> bool:
    """What the forms promise to accept: a JPEG, PNG or WebP file of at most 5 MB, named
    as one, that decodes whole and is not a decompression bomb."""
    import warnings

    from PIL import Image

    if (
        len(data) > 5 * 1024 * 1024
        or "." not in filename
        or filename.rsplit(".", 1)[1].lower() not in ("jpg", "jpeg", "png", "webp")
    ):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            image = Image.open(io.BytesIO(data))
            image.load()
        return image.format in ("JPEG", "PNG", "WEBP")
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Warning,
    ):  # what Pillow raises for a bad file
        return False


@pytest.mark.parametrize("form", sorted(UPLOAD_FORMS))
def test_photo_uploads_are_refused_cleanly_and_nothing_is_stored(world, form):
    spec = UPLOAD_FORMS[form]
    fields = spec.fields(world)
    names = [f.name for f in fields if f.kind not in ("file", "control")]
    findings = Findings("uploads", world.backend)

    @settings(max_examples=scaled(32), **COMMON)
    @given(
        photo=photos(), broken=st.one_of(st.none(), st.none(), st.tuples(st.sampled_from(names), hostile_value("text")))
    )
    @example(photo=(GOOD["PNG"], "photo.png", "good"), broken=("cost_lines-0-amount", "99999999999999999999"))
    @example(photo=(GOOD["PNG"], "photo.png", "good"), broken=("status", "no-such-status"))
    def attempt(photo, broken):
        data, filename, kind = photo
        world.settle()
        http, token = world.client(spec.who, None)
        pairs = build_pairs(Submission(fields=[(f.name, "valid", []) for f in fields]), fields, world, token)
        if broken is not None:  # a photo with something else wrong: the refusal must not keep the photo
            pairs = [(k, broken[1] if k == broken[0] else v) for k, v in pairs]
        pairs.append(("photo", (data, filename, "application/octet-stream")))
        url = spec.url(world)
        before = world.snapshot()
        response = send(http, url, pairs, Submission(ip="10.0.0.1"))
        shown = f"{kind} file {filename!r} ({len(data)} bytes, {data[:16]!r}...), other field changed: {short(broken)}"
        what = f"POST {url} ({spec.name})"
        check_response(findings, world, kind, what, response, before, shown)
        status = response.status_code
        if broken is None and not readable_photo(data, filename):
            expected = 413 if len(data) > 8 * 1024 * 1024 else 400
            body = response.get_data(as_text=True)
            if status != expected:
                findings.add(
                    f"{kind} status", f"[uploads/{world.backend}] {what}: {shown}: status {status}, expected {expected}"
                )
            elif expected == 400 and not any(m in body for m in PHOTO_MESSAGES):
                findings.add(
                    f"{kind} message",
                    f"[uploads/{world.backend}] {what}: {shown}: the page does not say what is wrong with the photo",
                )

    attempt()
    findings.check()


# ---------------------------------------------------------------- 4. mangled Pabulib files for `pb tally`

SMALL_FILES = sorted(p for p in DATA.glob("*.pb") if p.stat().st_size <= 20_000)
SECTION = re.compile(r"^(META|PROJECTS|VOTES)\s*$", re.MULTILINE | re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.])")
NOT_NUMBERS = [
    "abc",
    "",
    " ",
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "-5",
    "0",
    "1/0",
    "0x10",
    "1,5",
    "1.5.5",
    "9" * 400,
    "١٢",
    "½",
    "-0",
    "1e-400",
    "\x00",
    "🙂",
    '"',
    ";",
    "None",
]


def _mangle(text: str, steps: list[tuple[str, int, int, str]]) -> bytes:
    lines = text.split("\n")
    raw_edits = []
    for op, a, b, word in steps:
        n = max(1, len(lines))
        i, j = a % n, b % n
        if op == "truncate":
            text_now = "\n".join(lines)
            lines = text_now[: a % max(1, len(text_now))].split("\n")
        elif op == "delete" and lines:
            del lines[i]
        elif op == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif op == "swap" and lines:
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "number":
            matches = list(NUMBER.finditer(lines[i])) if lines else []
            if matches:
                m = matches[b % len(matches)]
                lines[i] = lines[i][: m.start()] + word + lines[i][m.end() :]
        elif op == "header":
            joined = "\n".join(lines)
            headers = list(SECTION.finditer(joined))
            if headers:
                m = headers[b % len(headers)]
                replacement = [
                    m.group(1).lower(),
                    m.group(1) + ";",
                    "",
                    m.group(1)[:-1],
                    "VOTES",
                    "META",
                    word,
                    m.group(1) + "\n" + m.group(1),
                ][a % 8]
                joined = joined[: m.start()] + replacement + joined[m.end() :]
                lines = joined.split("\n")
        elif op == "insert":
            lines.insert(i, word)
        elif op == "delimiter" and lines:
            lines[i] = lines[i].replace(";", [",", "\t", ";;", ""][b % 4])
        elif op == "quote" and lines:
            lines[i] = lines[i][: b % (len(lines[i]) + 1)] + '"' + lines[i][b % (len(lines[i]) + 1) :]
        elif op == "crlf":
            lines = [line + "\r" for line in lines]
        elif op == "flip":
            raw_edits.append((a, b))
    data = bytearray("\n".join(lines).encode("utf-8"))
    for a, b in raw_edits:
        if data:
            data[a % len(data)] ^= (b % 255) + 1
    return bytes(data)


STEPS = st.tuples(
    st.sampled_from(
        [
            "truncate",
            "delete",
            "duplicate",
            "swap",
            "number",
            "number",
            "header",
            "insert",
            "delimiter",
            "quote",
            "crlf",
            "flip",
            "flip",
        ]
    ),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.one_of(
        st.sampled_from(NOT_NUMBERS),
        _hostile_text().map(lambda s: s[:2000]),
        # numbers for numbers, so that more files stay readable and get counted: none, negative, enormous
        st.integers(-10, 10**30).map(str),
        st.decimals(0, 10**12, places=3).map(str),
    ),
)
RULE_OPTIONS = st.one_of(
    st.just([]),
    st.sampled_from(
        [
            "greedy",
            "greedy-no-skip",
            "equalshares",
            "equalshares/add1",
            "equalshares/add1-comparison",
            "",
            "borda",
            "GREEDY",
            "\x00",
        ]
    ).map(lambda r: ["--rule", r]),
)


class TooSlow(Exception):
    pass


def _alarm(_signum, _frame):
    raise TooSlow("pb tally took more than 20 seconds")


@pytest.mark.skipif(not SMALL_FILES, reason=f"no Pabulib files in {DATA}")
def test_pb_tally_on_mangled_pabulib_files_exits_0_or_2_with_one_line(tmp_path):
    """`pb tally` (and `pb verify`, which may also exit 1: "differ") on real files
    mangled at random: never a traceback, never another exit status, and a refusal is one
    line on stderr."""
    from pb.cli import main as pb_main

    target = tmp_path / "mangled.pb"
    findings = Findings("pabulib", "-")
    originals = {p.name: p.read_text(encoding="utf-8-sig") for p in SMALL_FILES}

    @settings(max_examples=scaled(400), **COMMON)
    @given(
        name=st.sampled_from(sorted(originals)),
        steps=st.lists(STEPS, min_size=1, max_size=4),
        rule=RULE_OPTIONS,
        output=st.sampled_from([[], ["--format", "json"]]),
        command=st.sampled_from(["tally"] * 4 + ["verify"]),
    )
    def attempt(name, steps, rule, output, command):
        target.write_bytes(_mangle(originals[name], steps))
        options = rule + output if command == "tally" else []
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(20)
        try:
            result = CliRunner().invoke(pb_main, [command, str(target), *options])
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        TRIED[("pabulib", "-")] += 1
        STATUSES[("pabulib", f"{command} exit {result.exit_code}")] += 1
        shown = f"pb {command} on {name} mangled by {[(op, a, b, short(w, 30)) for op, a, b, w in steps]}, options {options}"
        allowed = (0, 2) if command == "tally" else (0, 1, 2)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            error = type(result.exception).__name__
            tb = "".join(traceback.format_exception(*result.exc_info))
            findings.add(
                f"{command} {error}: {str(result.exception)[:80]}",
                f"[pabulib] pb {command} raised {error}: {short(str(result.exception), 200)}\n"
                f"  input: {shown}\n  traceback (last lines):\n{tail(tb)}",
                cause=f"pb {command} raised {error}",
            )
        elif result.exit_code not in allowed:
            findings.add(
                f"{command} exit {result.exit_code}",
                f"[pabulib] pb {command} exit {result.exit_code}\n  input: {shown}\n  output: {result.output[-1000:]!r}",
            )
        elif result.exit_code == 2 and (
            result.stderr.count("\n") != 1 or not result.stderr.startswith("error: ") or "Traceback" in result.output
        ):
            findings.add(
                f"{command} exit 2 not one line",
                f"[pabulib] pb {command} exit 2 without a one-line error\n  input: {shown}\n  stderr: {result.stderr[-1000:]!r}",
            )
        elif result.exit_code in (0, 1) and (
            not result.stdout.strip() or any(not line.startswith("warning: ") for line in result.stderr.splitlines())
        ):
            findings.add(
                f"{command} exit {result.exit_code} output",
                f"[pabulib] pb {command} exit {result.exit_code} with output {result.output[-1000:]!r}\n  input: {shown}",
            )

    attempt()
    findings.check()
