"""Forms for signing up and in, password resets and organisations."""

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from pb.accounts.models import ANCHOR_TYPES, GROUP_TYPES, OrganisationKind
from pb.accounts.passwords import MIN_LENGTH, StrongPassword
from pb.forms import PbForm

def _password(label):
    return PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(max=200, message=_l("Use at most %(max)d characters.")),
            StrongPassword(),
        ],
        description=_l("At least %(min)d characters, and not easy to guess. A few unrelated words are easy to remember.",
                       min=MIN_LENGTH),
    )


def _email():
    return EmailField(
        _l("Email address"),
        validators=[DataRequired(), Length(max=254), Email(message=_l("Enter an email address like name@example.org."))],
    )


def _name():
    return StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)])


class SignUpForm(PbForm):
    """The first step: who you are and where to send the link."""

    name = _name()
    email = _email()


class FinishSignUpForm(PbForm):
    """The second step, from the emailed link: the password."""

    name = _name()
    password = _password(_l("Password"))
    confirm = PasswordField(
        _l("Password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords are not the same."))],
    )


class SignInForm(PbForm):
    email = _email()
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class ResetRequestForm(PbForm):
    email = _email()


class ResetPasswordForm(PbForm):
    password = _password(_l("New password"))
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords are not the same."))],
    )


class OrganisationForm(PbForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice(OrganisationKind.ANCHOR.value, _l("Anchor institution")),
            SelectChoice(OrganisationKind.GROUP.value, _l("Community group")),
        ],
    )
    subtype = SelectField(
        _l("Type"),
        choices=[SelectChoice(value, label, optgroup=_l("Anchor institutions")) for value, label in ANCHOR_TYPES.items()]
        + [SelectChoice(value, label, optgroup=_l("Community groups")) for value, label in GROUP_TYPES.items()],
    )


class MemberForm(PbForm):
    email = _email()
