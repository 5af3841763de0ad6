"""Languages: user choice, then cookie, then Accept-Language; amounts formatted by Babel."""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask_babel import force_locale

from pb.i18n import money

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"


def welsh_catalogue():
    with open(ROOT / "translations" / "cy" / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def welsh(english):
    message = welsh_catalogue().get(english)
    assert message is not None and message.string, f"no Welsh for {english!r}"
    return message.string


def test_english_by_default(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'lang="en-GB"' in page
    assert "Forgotten your password?" in page


def test_accept_language_chooses_welsh(client):
    page = client.get("/sign-in", headers={"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert 'lang="cy"' in page
    assert welsh("Forgotten your password?") in page


def test_cookie_beats_accept_language(client):
    response = client.submit("/language", {"language": "cy", "next": "/sign-in"}, page="/sign-in")
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    page = client.get("/sign-in", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert welsh("Forgotten your password?") in page


def test_user_choice_beats_cookie(app, client, make_user, db):
    make_user("lee@example.org")
    client.sign_in("lee@example.org", PASSWORD)
    client.submit("/language", {"language": "cy", "next": "/dashboard"}, page="/dashboard")
    # A new browser with an English cookie: the account's choice still wins.
    from tests.conftest import FormClient

    other = FormClient(app)
    other.http.set_cookie("pb_locale", "en_GB", domain="localhost")
    other.sign_in("lee@example.org", PASSWORD)
    page = other.get("/dashboard").get_data(as_text=True)
    assert welsh("Your dashboard") in page


def test_unknown_language_is_refused(client):
    response = client.submit("/language", {"language": "xx", "next": "/"}, page="/")
    assert response.status_code == 400
    assert "pb_locale" not in response.headers.get("Set-Cookie", "")


def test_language_switch_does_not_redirect_off_site(client):
    response = client.submit("/language", {"language": "cy", "next": "//evil.example/"}, page="/")
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("locale,expected", [("en_GB", "£1,234.56"), ("cy", "£1,234.56")])
def test_money_is_formatted_for_the_locale(app, locale, expected):
    with app.test_request_context(), force_locale(locale):
        assert money(123456) == expected


def test_every_string_has_a_welsh_translation():
    """Welsh no less favourably than English: nothing shown in English by omission."""
    method_map = [("**.py", "python"), ("**.html", "jinja2")]
    found = set()
    for folder in ("pb", "templates"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map, keywords={"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
        ):
            found.add(message if isinstance(message, str) else message[0])
    catalogue = welsh_catalogue()
    missing = sorted(m for m in found if not (catalogue.get(m) and catalogue.get(m).string))
    assert missing == []
