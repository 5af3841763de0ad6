"""Forms for community groups and their proposals, and for screening."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    EmailField,
    FieldList,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, Length, Optional, StopValidation

from pb.accounts.models import GROUP_TYPES
from pb.fields import CheckboxesField, MoneyField, full_postcode
from pb.forms import PbForm, RowForm
from pb.proposals.models import Status

FIRST_COST_LINES = 3  # a fresh form's empty lines; "Add another cost line" gives more
MAX_COST_LINES = 30  # more is a budget spreadsheet, not a proposal


class GroupForm(PbForm):
    name = StringField(_l("Name of the group"), validators=[DataRequired(), Length(max=200)])
    subtype = SelectField(
        _l("Type of group"), choices=[SelectChoice(value, label) for value, label in GROUP_TYPES.items()]
    )
    registered_number = StringField(
        _l("Registered number (if any)"),
        validators=[Optional(), Length(max=40)],
        description=_l("Charity or company number. Informal groups can leave this empty."),
    )
    contact_email = EmailField(
        _l("Contact email address"),
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
    )
    area_served = StringField(_l("Area the group serves"), validators=[Optional(), Length(max=200)])


class InviteForm(PbForm):
    email = EmailField(
        _l("Email address of the person to invite"),
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
    )


class CostLineForm(RowForm):
    item = StringField(_l("Item"), validators=[Optional(), Length(max=120)])
    amount = MoneyField(_l("Cost"))


class ProposalForm(PbForm):
    photo_held = False  # set when the page comes back holding a chosen photo
    organisation = SelectField(_l("Proposed by"), coerce=int)
    contest = SelectField(_l("Ballot paper (area)"), coerce=int)
    title = StringField(
        _l("Title"), validators=[DataRequired(), Length(max=120)], description=_l("Up to 120 characters.")
    )
    summary = TextAreaField(
        _l("Summary"),
        validators=[DataRequired(), Length(max=300)],
        description=_l("One or two sentences residents will see on the ballot. Up to 300 characters."),
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), Length(max=5000)],
        description=_l("What you will do, where and when. Up to 5,000 characters."),
    )
    category = SelectField(_l("Category"), coerce=int)
    objectives = CheckboxesField(_l("Which of the round's objectives does it serve?"), coerce=int)
    cost_lines = FieldList(
        FormField(CostLineForm), label=_l("Costs"), min_entries=FIRST_COST_LINES, max_entries=MAX_COST_LINES
    )
    beneficiaries = TextAreaField(_l("Who benefits"), validators=[Optional(), Length(max=1000)])
    postcode = StringField(_l("Postcode of the location"), validators=[Optional(), Length(max=10), full_postcode])
    kept_photo = HiddenField()  # a signed reference to a photo held from an earlier attempt
    photo = FileField(
        _l("Photo (optional)"),
        validators=[
            Optional(),
            FileAllowed(["jpg", "jpeg", "png", "webp"], _l("The photo must be a JPEG, PNG or WebP image.")),
        ],
        description=_l("A JPEG, PNG or WebP image of at most 5 MB."),
    )

    def add_cost_line(self) -> None:
        """One more empty line, up to the most a proposal may have."""
        if len(self.cost_lines.entries) < MAX_COST_LINES:
            self.cost_lines.append_entry()

    def validate_cost_lines(self, field):
        lines, faulty = [], False
        for row in field.entries:
            if row.form.errors:  # already said, beside the line: one message per problem
                faulty = True
                continue
            item, amount = (row.form.item.data or "").strip(), row.form.amount.data
            if not item and amount is None:
                continue
            if not item:
                raise ValidationError(_l("Say what each cost is for."))
            if amount is None:
                raise ValidationError(_("Give an amount for “%(item)s”.", item=item))
            if amount <= 0:
                raise ValidationError(_l("Every cost must be more than zero."))
            lines.append((item, amount))
        if faulty:
            raise StopValidation()
        if not lines:
            raise ValidationError(_l("Add at least one cost line."))
        self.cost_line_values = lines


class ScreeningForm(PbForm):
    decision = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice(Status.ELIGIBLE.value, _l("Eligible: it goes on the ballot")),
            SelectChoice(Status.RETURNED.value, _l("Return to the group for changes")),
            SelectChoice(Status.NOT_ELIGIBLE.value, _l("Not eligible")),
        ],
        validators=[DataRequired(message=_l("Choose a decision."))],
    )
    reason = TextAreaField(
        _l("Reason or message"),
        validators=[Length(max=2000)],
        description=_l("Needed unless the proposal is eligible. The reason for “not eligible” is public."),
    )


class ScreenerForm(PbForm):
    email = EmailField(
        _l("Email address of the reviewer"),
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
        description=_l("They need an account on pb."),
    )
