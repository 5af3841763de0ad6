"""WTForms' own messages ("This field is required.", "Field cannot be longer than ...").

Flask-WTF looks them up in our catalogues, so they are listed here for `pybabel extract`
to find: a resident who makes a mistake reads why in their own language. Nothing calls
these functions; they only mark the messages, exactly as WTForms writes them.
"""


def gettext(message: str) -> str:
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


MESSAGES = [
    gettext("This field is required."),
    gettext("Invalid email address."),
    gettext("Not a valid choice."),
    gettext("Invalid Choice: could not coerce."),
    gettext("Invalid choice(s): one or more data inputs could not be coerced."),
    ngettext(
        "'%(value)s' is not a valid choice for this field.", "'%(value)s' are not valid choices for this field.", 2
    ),
    gettext("Not a valid integer value."),
    gettext("Not a valid decimal value."),
    gettext("Not a valid date value."),
    gettext("Not a valid datetime value."),
    gettext("Number must be at least %(min)s."),
    gettext("Number must be at most %(max)s."),
    gettext("Number must be between %(min)s and %(max)s."),
    ngettext("Field must be at least %(min)d character long.", "Field must be at least %(min)d characters long.", 2),
    ngettext("Field cannot be longer than %(max)d character.", "Field cannot be longer than %(max)d characters.", 2),
    ngettext("Field must be exactly %(max)d character long.", "Field must be exactly %(max)d characters long.", 2),
    gettext("Field must be between %(min)d and %(max)d characters long."),
]
