"""Languages: the resident's choice, then a cookie, then what the browser asks for.

Amounts and dates are always formatted by Babel for the chosen locale.
"""

import os
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.lists import format_list
from babel.numbers import format_percent, get_currency_precision
from flask import current_app, request
from flask_babel import (
    Babel,
    format_currency,
    format_datetime,
    format_number,
    get_locale,
    to_user_timezone,
)
from flask_login import current_user

LOCALE_COOKIE = "pb_locale"
babel = Babel()


def available_locales() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    languages = available_locales()
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in languages:
        return user_locale
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in languages:
        return cookie
    # Accept-Language says "en-GB" or "cy"; match on the language when the region differs.
    wanted = [code.replace("_", "-") for code in languages]
    best = request.accept_languages.best_match(wanted)
    if best:
        return languages[wanted.index(best)]
    by_language = {code.split("_")[0]: code for code in reversed(languages)}
    for value, _quality in request.accept_languages:
        code = by_language.get(value.split("-")[0].lower())
        if code:
            return code
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def language_name(code: str) -> str:
    """A language's name in that language, e.g. 'Cymraeg' for cy."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def _isolated(text: str) -> str:
    """In a right-to-left language, an amount is kept whole beside the words and numbers
    around it (Unicode isolates), so "£40,000.00" and a count next to it never run together."""
    return f"\u2068{text}\u2069" if is_rtl() else text


def money(minor_units: int, currency: str | None = None) -> str:
    """An amount kept in minor units (pence), formatted for the current locale."""
    currency = currency or current_app.config["DEFAULT_CURRENCY"]
    return _isolated(format_currency(Decimal(minor_units).scaleb(-get_currency_precision(currency)), currency))


def when(value) -> str:
    """A date and time as people write it in the chosen language, in the user's time zone."""
    locale = get_locale()
    local = to_user_timezone(value)
    date = format_skeleton("yMMMMd", local, locale=locale)
    time = format_time(local, "short", locale=locale)
    return locale.datetime_formats["medium"].format(time, date)


def percent(share, tenths: bool = False) -> str:
    """A share (a fraction from 0 to 1) as a percentage in the chosen language; a dash when unknown.
    With `tenths`, to a tenth of a percent (halves up) and no trailing zero: "0.4%", "37.5%", "40%",
    as turnout is told (a whole percent would show "0%" when hundreds have voted in a large area)."""
    if share is None:
        return "–"
    if not tenths:
        return _isolated(format_percent(float(share), locale=get_locale()))
    exact = (
        Decimal(share.numerator) / Decimal(share.denominator) if hasattr(share, "numerator") else Decimal(str(share))
    )
    rounded = exact.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP).normalize()
    return _isolated(format_percent(rounded, locale=get_locale(), decimal_quantization=False))


def day(value) -> str:
    """A calendar date as people write it in the chosen language."""
    return format_skeleton("yMMMd", value, locale=get_locale())


def listing(items) -> str:
    """Names joined as the chosen language joins a list: "A, B and C"."""
    return format_list([str(item) for item in items], locale=get_locale())


def is_rtl() -> bool:
    """Whether the chosen language is written right to left (Urdu, Arabic)."""
    locale = get_locale()
    return bool(locale) and locale.text_direction == "rtl"


def configure_i18n(app) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=os.path.join(os.path.dirname(app.root_path), "translations"),  # beside pb/
    )
    app.jinja_env.globals.update(
        get_locale=get_locale, language_name=language_name, available_locales=available_locales, is_rtl=is_rtl
    )
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["listing"] = listing
