"""Form fields shared by several domains: amounts of money, postcodes, lists of lines."""

import re
from decimal import Decimal, InvalidOperation

from babel.numbers import (
    NumberFormatError,
    format_decimal,
    get_currency_precision,
    parse_decimal,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
    widgets,
)

from pb.i18n import money
from pb.money import MAX_AMOUNT
from pb.postcodes import FULL_POSTCODE, POSTCODE, normalise_postcode


class MoneyField(StringField):
    """An amount typed as the person writes it in their language ('12,500.50', '£300'),
    kept as an integer number of minor units (pence)."""

    def __init__(self, label=None, validators=None, currency="GBP", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.currency = currency

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if isinstance(self.data, int):
            # As this language writes a number ("1250.50", "1250,50"), so it reads back unchanged.
            precision = get_currency_precision(self.currency)
            pattern = "0." + "0" * precision if precision else "0"
            return format_decimal(
                Decimal(self.data).scaleb(-precision), format=pattern, locale=str(get_locale() or "en_GB")
            )
        return ""

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist or not valuelist[0].strip():
            return
        text = re.sub(r"[£$€\s]", "", valuelist[0])
        if len(text) > 20 or not re.fullmatch(r"[0-9][0-9.,'\u00a0\u202f]*", text):
            raise ValueError(_l("Enter an amount such as %(example)s.", example=money(1250000)))
        try:
            amount = parse_decimal(text, locale=str(get_locale() or "en_GB"), strict=True)
        except (NumberFormatError, InvalidOperation):
            raise ValueError(_l("Enter an amount such as %(example)s.", example=money(1250000))) from None
        precision = get_currency_precision(self.currency)
        minor = amount.scaleb(precision)
        if minor != minor.to_integral_value():
            raise ValueError(_l("Use at most %(digits)d digits after the decimal point.", digits=precision))
        if minor > MAX_AMOUNT:
            raise ValueError(_l("Enter an amount of at most %(most)s.", most=money(MAX_AMOUNT, self.currency)))
        self.data = int(minor)


def full_postcode(form, field) -> None:
    """A WTForms validator: the field holds a whole postcode (normalised in place)."""
    if field.data:
        field.data = normalise_postcode(field.data)
        if not FULL_POSTCODE.match(field.data):
            raise ValidationError(_l("Enter a full postcode, like LS6 1AA."))


class LinesField(TextAreaField):
    """A list typed one item per line; blank lines and repeats are dropped."""

    def __init__(self, label=None, validators=None, max_items=50, max_length=200, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.max_items, self.max_length = max_items, max_length

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "\n".join(self.data or [])

    def process_formdata(self, valuelist):
        self.data: list[str] = []
        if not valuelist:
            return
        for line in valuelist[0].splitlines():
            line = line.strip()
            if line and line not in self.data:
                self.data.append(line)

    def pre_validate(self, form):
        if len(self.data) > self.max_items:
            raise ValidationError(_l("At most %(count)d lines, please.", count=self.max_items))
        for line in self.data:
            if len(line) > self.max_length:
                raise ValidationError(_l("Each line can be at most %(count)d characters.", count=self.max_length))


class PostcodesField(LinesField):
    """Postcodes or postcode prefixes (e.g. 'LS6', 'LS6 1', 'LS6 1AA'), one per line or separated by commas."""

    def process_formdata(self, valuelist):
        if valuelist:
            valuelist = [valuelist[0].replace(",", "\n")]
        super().process_formdata(valuelist)
        self.data = list(dict.fromkeys(normalise_postcode(p) for p in self.data))

    def pre_validate(self, form):
        super().pre_validate(form)
        wrong = [p for p in self.data if not POSTCODE.match(p)]
        if wrong:
            raise ValidationError(_("These are not postcodes or postcode beginnings: %(list)s", list=", ".join(wrong)))


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes, each with an optional hint (`hints`, by value)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def __init__(self, label=None, validators=None, hints=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.hints = hints or {}


class DayField(DateField):
    """A calendar date (an <input type="date">), with an error a person understands."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a date like %(example)s.", example="2027-03-31")) from None
