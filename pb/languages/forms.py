"""Forms for choosing a round's languages and giving text in them."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from pb.fields import CheckboxesField
from pb.forms import PbForm


class RoundLanguagesForm(PbForm):
    source = SelectField(
        _l("Language the round's text is written in"),
        validators=[DataRequired()],
        description=_l("The round's title and purpose, and the proposals, are written in this language."),
    )
    others = CheckboxesField(
        _l("Other languages residents can read it in"),
        description=_l(
            "Residents who choose one of these see the translations given, and the text as written where none is given."
        ),
    )


class TranslationForm(PbForm):
    """The language being given; its choices are the round's other languages."""

    language = SelectField(_l("Language"), validators=[DataRequired()])


class RoundTranslationForm(TranslationForm):
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    purpose = TextAreaField(_l("Purpose"), validators=[Optional(), Length(max=5000)])
    eligibility = TextAreaField(_l("Who may vote"), validators=[Optional(), Length(max=2000)])


class ReasonTranslationForm(TranslationForm):
    screening_reason = TextAreaField(_l("Reason or message"), validators=[Optional(), Length(max=2000)])


class ProposalTranslationForm(TranslationForm):
    title = StringField(_l("Title"), validators=[Optional(), Length(max=120)])
    summary = TextAreaField(_l("Summary"), validators=[Optional(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    beneficiaries = TextAreaField(_l("Who benefits"), validators=[Optional(), Length(max=1000)])
