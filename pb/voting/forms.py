"""Forms for proving eligibility, for ballots, and for leads' voting tools."""

import re

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TelField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, ValidationError

from pb.fields import CheckboxesField, full_postcode
from pb.forms import PbForm


class CodeForm(PbForm):
    code = StringField(
        _l("Your voting code"),
        validators=[DataRequired(message=_l("Enter the code from your letter.")), Length(max=40)],
        description=_l("It is on your letter, like ABCD-EFGH-JKMN."),
    )


class EmailForm(PbForm):
    email = EmailField(
        _l("Your email address"),
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
    )
    postcode = StringField(_l("Your postcode"), validators=[DataRequired(), Length(max=10)])


class EmailCodeForm(PbForm):
    code = StringField(_l("The six-digit code we emailed you"), validators=[DataRequired(), Length(max=12)])


def uk_mobile_number(form, field) -> None:
    from pb.voting.phones import NotAMobile, uk_mobile
    from pb.voting.services import not_a_mobile_message

    try:
        uk_mobile(field.data or "")
    except NotAMobile as error:
        raise ValidationError(not_a_mobile_message(error)) from None


class SmsForm(PbForm):
    """A mobile number to text a code to. Its ids are its own: the email and declared
    identity forms on the same page ask for a postcode too."""

    mobile = TelField(
        _l("Your mobile number"),
        validators=[DataRequired(message=_l("Enter your mobile number.")), Length(max=30), uk_mobile_number],
        description=_l("A UK mobile, like 07700 900123."),
        id="sms-mobile",
    )
    postcode = StringField(_l("Your postcode"), validators=[DataRequired(), Length(max=10)], id="sms-postcode")


class SmsCodeForm(PbForm):
    code = StringField(_l("The six-digit code we texted you"), validators=[DataRequired(), Length(max=12)])


def declaration_form(round_, **kwargs):
    """The declared identity a round asks for: what it chose (name, first line of the
    address, year of birth), the postcode always, and the declaration itself."""
    from pb.clock import today
    from pb.rounds.models import DeclaredField

    class DeclarationForm(PbForm):
        pass

    declares = round_.declares
    if DeclaredField.NAME in declares:
        DeclarationForm.name = StringField(
            _l("Your full name"), validators=[DataRequired(), Length(max=120)], id="declared-name"
        )
    if DeclaredField.ADDRESS in declares:
        DeclarationForm.address = StringField(
            _l("First line of your address"),
            validators=[DataRequired(), Length(max=120)],
            description=_l("For example: 12 High Street, or Flat 3, Mill House."),
            id="declared-address",
        )
    DeclarationForm.postcode = StringField(
        _l("Your postcode"), validators=[DataRequired(), Length(max=10), full_postcode], id="declared-postcode"
    )
    if DeclaredField.BIRTH_YEAR in declares:
        this_year = today().year
        DeclarationForm.birth_year = IntegerField(
            _l("Year you were born"),
            validators=[
                InputRequired(message=_l("Enter the year you were born, like 1980.")),
                NumberRange(min=this_year - 120, max=this_year, message=_l("Enter the year you were born, like 1980.")),
            ],
            id="declared-birth-year",
        )
    DeclarationForm.declaration = BooleanField(
        _l(
            "I declare that these are my own details, that I am eligible to vote in this round, and that I am voting only once."
        ),
        validators=[InputRequired(message=_l("Please confirm the declaration."))],
    )
    return DeclarationForm(**kwargs)


class CodeBatchForm(PbForm):
    area = SelectField(_l("For residents of"), coerce=int)
    count = IntegerField(
        _l("How many codes"),
        default=100,
        validators=[NumberRange(min=1, max=50_000, message=_l("Make between 1 and 50,000 codes at a time."))],
    )


class CancelLetterForm(PbForm):
    letter = StringField(
        _l("Reference of the lost letter"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("Printed under the code, like 3-0042."),
    )


class ExportForm(PbForm):
    """A download that is audited, so asked for with a POST (and its CSRF token)."""


class HelperForm(PbForm):
    email = EmailField(
        _l("Email address of the helper"),
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
        description=_l("They need an account on pb."),
    )


def ordinal_label(rank: int) -> str:
    return str(_l("Choice %(rank)d", rank=rank))


def ballot_form(contest, projects, formdata=None):
    """A form for one ballot paper: ticks for approval, a rank per project for ranked, a
    number of points per project for points ballots."""

    class BallotForm(PbForm):
        sent: frozenset[str] = frozenset()  # the names of the fields sent (points ballots)

    if contest.ballot_kind == "points":
        # Text as typed: the voting service's messages say what is wrong with a number.
        for project in projects:
            setattr(
                BallotForm,
                f"points_{project.id}",
                StringField(
                    project.title,
                    validators=[
                        Length(max=10, message=_l("Give each project a whole number of points, or leave it blank."))
                    ],
                    render_kw={
                        "type": "number",
                        "inputmode": "numeric",
                        "min": 0,
                        "max": contest.points_max,
                        "step": 1,
                        "class": "points",
                    },
                ),
            )
        form = BallotForm(formdata=formdata)
        # Which fields were sent, to refuse points for a project that is not on this paper.
        form.sent = frozenset(formdata.keys()) if formdata is not None else frozenset()
        return form
    if contest.ballot_kind == "approval":
        # Choices are checked whole by the voting service, with messages for voters.
        BallotForm.project = CheckboxesField(
            _l("Projects"), choices=[SelectChoice(str(p.id), p.title) for p in projects], validate_choice=False
        )
    else:
        options = [SelectChoice("", _l("Not ranked"))] + [
            SelectChoice(str(r), ordinal_label(r)) for r in range(1, contest.rank_depth + 1)
        ]
        for project in projects:
            setattr(
                BallotForm,
                f"rank_{project.id}",
                SelectField(project.title, choices=options, default="", validate_choice=False),
            )
    return BallotForm(formdata=formdata)


def choices_from(form, contest, projects) -> dict[int, int | None]:
    """The voter's choices from a submitted ballot form. Raises VotingError for what
    cannot be a choice (the voting service checks the rest)."""
    from flask_babel import gettext as _

    from pb.voting.services import VotingError

    if contest.ballot_kind == "approval":
        ticked = form.project.data or []
        # ASCII digits only ("²" is a digit to str.isdigit), and no longer than an id can be.
        if not all(re.fullmatch(r"[0-9]{1,10}", str(value)) for value in ticked):
            raise VotingError(_("Your ballot names a project that is not on this ballot paper."))
        if len(set(ticked)) != len(ticked):
            raise VotingError(_("Choose each project only once."))
        return {int(value): None for value in ticked}
    if contest.ballot_kind == "points":
        return _points_from(form, contest, projects)
    choices: dict[int, int | None] = {}
    for project in projects:
        raw = getattr(form, f"rank_{project.id}").data
        if raw:
            if not re.fullmatch(r"[0-9]{1,3}", str(raw)):
                raise VotingError(_("Ranks go from 1 to %(k)d.", k=contest.rank_depth))
            choices[project.id] = int(raw)
    return choices


def _points_from(form, contest, projects) -> dict[int, int | None]:
    """Points per project, as typed: blank or 0 is none; anything but a whole number is refused."""
    from flask_babel import gettext as _

    from pb.voting.services import VotingError

    on_paper = {f"points_{project.id}" for project in projects}
    if any(re.fullmatch(r"points_.*", key) and key not in on_paper for key in form.sent):
        raise VotingError(_("Your ballot names a project that is not on this ballot paper."))
    choices: dict[int, int | None] = {}
    for project in projects:
        raw = (getattr(form, f"points_{project.id}").data or "").strip()
        if not raw:
            continue
        # ASCII digits only: "²", "1e3", "-1" and "2.5" are not a number of points.
        if not re.fullmatch(r"[0-9]{1,4}", raw):
            raise VotingError(_("Give each project a whole number of points, or leave it blank."))
        if int(raw):
            choices[project.id] = int(raw)
    return choices
