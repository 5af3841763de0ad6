"""Languages: user choice, then cookie, then Accept-Language; amounts formatted by Babel."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask_babel import force_locale

from pb import lifecycle
from pb.i18n import money

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"


def welsh_catalogue():
    with open(ROOT / "translations" / "cy" / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def welsh(english):
    message = welsh_catalogue().get(english)
    assert message is not None, f"no Welsh for {english!r}"
    assert message.string, f"no Welsh for {english!r}"
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
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in"
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


# Written out by hand from each language's conventions (CLDR), not computed by the code under test.
AMOUNTS = {
    "en_GB": ("£1,250.00", "€1,250.00"),
    "cy": ("£1,250.00", "€1,250.00"),
    "pl": ("1\xa0250,00\xa0GBP", "1\xa0250,00\xa0€"),
    "ro": ("1.250,00\xa0GBP", "1.250,00\xa0EUR"),
    # Right to left: each amount is isolated (U+2068 ... U+2069) from the text around it.
    "ur": ("\u2068£1,250.00\u2069", "\u2068€1,250.00\u2069"),
    "bn": ("1,250.00£", "1,250.00€"),
    "ar": ("\u2068\u200f1,250.00\xa0UK£\u2069", "\u2068\u200f1,250.00\xa0€\u2069"),
}
COSTS = {
    "en_GB": "£12,000.00",
    "cy": "£12,000.00",
    "pl": "12\xa0000,00\xa0GBP",
    "ro": "12.000,00\xa0GBP",
    "ur": "£12,000.00",
    "bn": "12,000.00£",
    "ar": "\u200f12,000.00\xa0UK£",
}
LOCALES = list(AMOUNTS)
TRANSLATED = [locale for locale in LOCALES if locale != "en_GB"]
RIGHT_TO_LEFT = {"ur", "ar"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]")


def test_every_offered_language_has_a_catalogue(app):
    assert app.config["LANGUAGES"] == LOCALES
    for locale in TRANSLATED:
        assert (ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").exists()


@pytest.mark.parametrize("locale", LOCALES)
def test_amounts_follow_the_locale(app, locale):
    pounds, euros = AMOUNTS[locale]
    with app.test_request_context(), force_locale(locale):
        assert money(125000) == pounds
        assert money(125000, "EUR") == euros


def catalogue(locale):
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def source_messages() -> set:
    method_map = [("**.py", "python"), ("**.html", "jinja2")]
    found = set()
    for folder in ("pb", "templates"):
        for _file, _line, message, _comments, context in extract_from_dir(
            ROOT / folder,
            method_map,
            keywords={
                "_": None,
                "_l": None,
                "gettext": None,
                "lazy_gettext": None,
                "ngettext": (1, 2),
                "pgettext": ((1, "c"), 2),
                "lazy_pgettext": ((1, "c"), 2),
            },
        ):
            found.add((message if isinstance(message, str) else message[0], context))
    return found


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(locale):
    """Nothing is shown in English by omission, nothing is fuzzy, and no translation drops
    or changes a placeholder (in every plural form)."""
    messages = catalogue(locale)
    missing = sorted(
        (m, context)
        for m, context in source_messages()
        if not (messages.get(m, context=context) and messages.get(m, context=context).string)
    )
    assert missing == []
    problems = []
    for message in messages:
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else message.id
        forms = (message.string,) if isinstance(message.string, str) else message.string
        wanted = sorted({p for text in ids for p in PLACEHOLDER.findall(text)})
        if message.fuzzy:
            problems.append(("fuzzy", message.id))
        elif not all(forms):
            problems.append(("untranslated", message.id))
        elif not isinstance(message.id, str) and len(forms) != messages.num_plurals:
            problems.append(("plural forms", message.id))
        else:
            problems += [
                ("placeholders", message.id, form) for form in forms if sorted(set(PLACEHOLDER.findall(form))) != wanted
            ]
    assert problems == []


def test_the_placeholder_check_would_catch_a_dropped_placeholder():
    assert sorted(set(PLACEHOLDER.findall("Dewiswch o leiaf %(num)d prosiect."))) == ["%(num)d"]
    assert sorted(set(PLACEHOLDER.findall("Dewiswch o leiaf prosiect."))) != ["%(num)d"]
    assert sorted(set(PLACEHOLDER.findall("%(n)d"))) != ["%(num)d"]


def translation(locale, singular, plural=None, n=None, **values):
    """What the compiled catalogue says for a message, filled in as the page fills it."""
    from babel.support import Translations

    translations = Translations.load(str(ROOT / "translations"), [locale])
    if plural is None:
        return translations.ugettext(singular) % values if values else translations.ugettext(singular)
    return translations.ungettext(singular, plural, n) % {"num": n, **values}


def in_page(text: str, page: str) -> bool:
    from markupsafe import escape

    return text in page or str(escape(text)) in page


def test_the_ballot_a_form_error_and_the_results_in_every_language(app, db, make_user):
    """A resident votes in each language: the start page, the ballot, a mistake on the
    ballot, and the published results are all in their language, right to left where
    the language is, with amounts as that language writes them."""
    from sqlmodel import select

    from pb.proposals.models import Project
    from pb.rounds import services as rounds
    from pb.rounds.models import Contest, Round
    from tests.conftest import FormClient
    from tests.factories import let_voting_close, make_codes, make_round, open_voting, user

    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council", methods=("codes",))
    codes = make_codes(app, db, ids["round"], ids["areas"]["North"], count=len(LOCALES))
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
    )
    base = f"/rounds/{ids['round']}"
    ballot = f"{base}/vote/{ids['contests']['North']}"
    with db(write=False) as session:
        project = session.exec(
            select(Project).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id)
        ).first()

    for locale, code in zip(LOCALES, codes, strict=False):
        resident = FormClient(app)
        resident.http.set_cookie("pb_locale", locale, domain="localhost")
        start = resident.get(f"{base}/vote").get_data(as_text=True)
        direction = "rtl" if locale in RIGHT_TO_LEFT else "ltr"
        assert f'dir="{direction}"' in start
        assert f'lang="{locale.replace("_", "-")}"' in start
        heading = translation(locale, "I have a letter with a voting code")
        assert in_page(heading, start), locale
        assert resident.submit(f"{base}/vote/code", {"code": code}, page=f"{base}/vote").status_code == 302
        page = resident.get(ballot).get_data(as_text=True)
        assert in_page(translation(locale, "Tick the projects you want"), page), locale
        assert COSTS[locale] in page, locale  # the first project's cost, £12,000
        # A mistake: nothing ticked. The message says so in the resident's language.
        mistake = resident.submit(ballot, {})
        assert mistake.status_code == 400
        message = translation(locale, "Choose at least %(num)d project.", "Choose at least %(num)d projects.", 1)
        assert in_page(message, mistake.get_data(as_text=True)), (locale, message)
        if locale != "en_GB":
            assert translation(locale, "Tick the projects you want") != "Tick the projects you want"
            assert "Choose at least 1 project." not in mistake.get_data(as_text=True)
        cast = resident.submit(ballot, {"project": str(project.id), "confirm": "yes"})
        assert cast.status_code == 302, locale

    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        lead = user(session, "lead@council.example")
        let_voting_close(session, round_)
        lifecycle.move_to_next_phase(session, round_, actor=lead)
        budget = rounds.contest_budgets(session, round_)[ids["contests"]["North"]]
        assert session.get(Contest, ids["contests"]["North"]) is not None
    assert budget == 50_000_00
    budgets = {
        "en_GB": "£50,000.00",
        "cy": "£50,000.00",
        "pl": "50\xa0000,00\xa0GBP",
        "ro": "50.000,00\xa0GBP",
        "ur": "£50,000.00",
        "bn": "50,000.00£",
        "ar": "\u200f50,000.00\xa0UK£",
    }
    for locale in LOCALES:
        reader = FormClient(app)
        reader.http.set_cookie("pb_locale", locale, domain="localhost")
        page = reader.get(f"{base}/results").get_data(as_text=True)
        assert in_page(translation(locale, "Recount it yourself"), page), locale
        assert in_page(translation(locale, "%(num)d ballot.", "%(num)d ballots.", len(LOCALES)), page), locale
        assert budgets[locale] in page, locale
        assert f'dir="{"rtl" if locale in RIGHT_TO_LEFT else "ltr"}"' in page


def test_wtforms_messages_come_from_our_catalogue(app, client):
    """WTForms' own messages ("This field is required.") are in the resident's language too."""
    client.http.set_cookie("pb_locale", "pl", domain="localhost")
    page = client.submit("/sign-up", {"email": "", "name": "", "password": ""}).get_data(as_text=True)
    expected = translation("pl", "This field is required.")
    assert expected != "This field is required."
    assert in_page(expected, page)


def test_every_page_offers_the_languages_without_javascript(client):
    page = client.get("/").get_data(as_text=True)
    assert '<form method="post" action="/language"' in page
    for locale in LOCALES:
        assert f'value="{locale}"' in page
