"""Forms for signing up and in, password resets and organisations."""

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Email, EqualTo, Length

from pb.accounts.models import TYPES_BY_KIND, OrganisationKind
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
        description=_l(
            "At least %(min)d characters, and not easy to guess. A few unrelated words are easy to remember.",
            min=MIN_LENGTH,
        ),
    )


def _email():
    return EmailField(
        _l("Email address"),
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
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
    """An anchor or a community group, chosen first (`kind`, from the page's link), so that
    the types offered are only those of that kind."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = HiddenField(
        validators=[
            AnyOf([kind.value for kind in OrganisationKind], message=_l("Choose an anchor or a community group."))
        ]
    )
    subtype = SelectField(_l("Type"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kinds = {kind.value for kind in OrganisationKind}
        if self.kind.data not in kinds and not self.is_submitted():
            self.kind.data = OrganisationKind.ANCHOR.value
        types = TYPES_BY_KIND[OrganisationKind(self.kind.data)] if self.kind.data in kinds else {}
        self.subtype.choices = [SelectChoice(value, label) for value, label in types.items()]


class MemberForm(PbForm):
    email = _email()
