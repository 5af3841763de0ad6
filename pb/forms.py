"""The base of every form: WTForms' own messages ("This field is required.") come from
our catalogues (see pb/wtforms_messages.py), so they are in every language we offer."""

from flask_babel import get_translations
from flask_wtf import FlaskForm
from wtforms import Form


class _Catalogue:
    """What WTForms asks for its messages, answered from pb's catalogue for the request's language."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


CATALOGUE = _Catalogue()


class _Meta:
    def get_translations(self, form):
        return CATALOGUE


class PbForm(FlaskForm):
    """A form posted by a browser (CSRF-protected)."""

    class Meta(_Meta):
        pass


class RowForm(Form):
    """One row of a list inside a form (a cost line, a milestone): no CSRF field of its own."""

    class Meta(_Meta):
        pass
