"""The base of every form: WTForms' own messages ("This field is required.") come from
our catalogues (see pb/wtforms_messages.py), so they are in every language we offer."""

from flask_babel import get_translations
from flask_wtf import FlaskForm
from wtforms import Form
from wtforms.meta import DefaultMeta


class _Catalogue:
    """What WTForms asks for its messages, answered from pb's catalogue for the request's language."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


CATALOGUE = _Catalogue()


class _Meta(DefaultMeta):
    def get_translations(self, form):
        return CATALOGUE


class PbForm(FlaskForm):
    """A form posted by a browser (CSRF-protected)."""

    class Meta(_Meta):
        def render_field(self, field, render_kw):
            """The CSRF field is drawn without an id: nothing labels it, and a page with
            several forms (the vote start page) would repeat the same id in each."""
            if field.type == "CSRFTokenField":
                render_kw = {**render_kw, "id": False}
            return super().render_field(field, render_kw)

        def wrap_formdata(self, form, formdata):
            """The request's fields, without any whose name could not be read (a field
            name with a line break in a multipart body arrives as None), without NUL, and
            with line breaks as one "\\n" (browsers send a text area's as "\\r\\n", and the
            pages split paragraphs at a blank line)."""
            data = super().wrap_formdata(form, formdata)
            if data is None:
                return None
            from werkzeug.datastructures import MultiDict

            # NUL is never meant, and PostgreSQL cannot store it in text: it is dropped.
            return MultiDict(
                [
                    (key, _plain(value) if isinstance(value, str) else value)
                    for key, value in data.items(multi=True)
                    if isinstance(key, str)
                ]
            )


def _plain(value: str) -> str:
    return value.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


class RowForm(Form):
    """One row of a list inside a form (a cost line, a milestone): no CSRF field of its own."""

    class Meta(_Meta):
        pass
