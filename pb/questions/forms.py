"""Forms for asking about a proposal, answering, and moderating."""

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from pb.forms import PbForm
from pb.questions.services import MAX_ANSWER, MAX_NAME, MAX_QUESTION, MAX_REASON


class AskForm(PbForm):
    text = TextAreaField(
        _l("Your question"),
        validators=[
            DataRequired(message=_l("Write your question.")),
            Length(max=MAX_QUESTION, message=_l("Keep your question to %(max)d characters.")),
        ],
        description=_l("Public, on the proposal's page. Up to 1,000 characters."),
    )
    display_name = StringField(
        _l("Name to show (optional)"),
        validators=[Optional(), Length(max=MAX_NAME, message=_l("Keep the name to %(max)d characters."))],
        description=_l("Shown with your question. Leave it empty to be shown as “A resident”."),
    )


class AskByEmailForm(AskForm):
    email = EmailField(
        _l("Your email address"),
        validators=[
            DataRequired(message=_l("Enter your email address: we send it a code to confirm your question.")),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
        description=_l(
            "We email you a six-digit code to confirm your question. Your address is never shown, "
            "and it is deleted once you confirm."
        ),
    )


class QuestionCodeForm(PbForm):
    code = StringField(
        _l("The six-digit code we emailed you"),
        validators=[DataRequired(message=_l("Enter the code from the email.")), Length(max=20)],
    )


class AnswerForm(PbForm):
    text = TextAreaField(
        _l("Your group's answer"),
        validators=[
            DataRequired(message=_l("Write your answer.")),
            Length(max=MAX_ANSWER, message=_l("Keep your answer to %(max)d characters.")),
        ],
        description=_l("Public, on the proposal's page, with your group's name. Up to 2,000 characters."),
    )


class ModerationForm(PbForm):
    reason = StringField(
        _l("Reason"),
        validators=[
            DataRequired(message=_l("Say why: the reason is public.")),
            Length(max=MAX_REASON, message=_l("Keep the reason to %(max)d characters.")),
        ],
        description=_l("Public: shown on the proposal's page and in the round's audit log."),
    )
