"""Forms for delivery updates, residents' verdicts and moderation."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    FormField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from pb.delivery.models import ANSWER_LABELS, DELIVERY_LABELS, NEEDS_REASON
from pb.fields import DayField, MoneyField
from pb.forms import PbForm, RowForm

MILESTONE_ROWS = 6
SPEND_ROWS = 10


class MilestoneForm(RowForm):
    title = StringField(_l("Milestone"), validators=[Optional(), Length(max=120)])
    due = DayField(_l("Date"), validators=[Optional()])
    done = BooleanField(_l("Done"))


class SpendForm(RowForm):
    item = StringField(_l("Spent on"), validators=[Optional(), Length(max=120)])
    amount = MoneyField(_l("Amount"))
    local = BooleanField(_l("Local"))


class UpdateForm(PbForm):
    status = RadioField(
        _l("Status"),
        choices=[SelectChoice(status.value, label) for status, label in DELIVERY_LABELS.items()],
        validators=[DataRequired(message=_l("Choose the project's status."))],
        validate_choice=False,  # the service explains a status that is not allowed
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[Length(max=2000)],
        description=_l("Needed when the project is delayed, stalled or cancelled. It is public."),
    )
    note = TextAreaField(
        _l("What has happened since the last update"),
        validators=[Optional(), Length(max=2000)],
        description=_l("A few sentences for residents. Up to 2,000 characters."),
    )
    milestones = FieldList(FormField(MilestoneForm), min_entries=MILESTONE_ROWS, max_entries=MILESTONE_ROWS)
    spend = FieldList(FormField(SpendForm), min_entries=SPEND_ROWS, max_entries=SPEND_ROWS)
    photo = FileField(
        _l("Photo (optional)"),
        validators=[
            Optional(),
            FileAllowed(["jpg", "jpeg", "png", "webp"], _l("The photo must be a JPEG, PNG or WebP image.")),
        ],
        description=_l("A JPEG, PNG or WebP image of at most 5 MB."),
    )

    def validate_reason(self, field):
        if self.status.data in {s.value for s in NEEDS_REASON} and not (field.data or "").strip():
            raise ValidationError(
                _l("Say why: residents are owed a reason when a project is delayed, stalled or cancelled.")
            )

    def validate_milestones(self, field):
        rows = []
        for row in field.entries:
            title, due = (row.form.title.data or "").strip(), row.form.due.data
            if not title and due is None and not row.form.due.errors:
                continue
            if not title:
                raise ValidationError(_l("Give each milestone a name."))
            if due is None:
                raise ValidationError(_("Give a date for “%(milestone)s”.", milestone=title))
            rows.append((title, due, bool(row.form.done.data)))
        self.milestone_values = rows

    def validate_spend(self, field):
        rows = []
        for row in field.entries:
            item, amount = (row.form.item.data or "").strip(), row.form.amount.data
            if not item and amount is None and not row.form.amount.errors:
                continue
            if not item:
                raise ValidationError(_l("Say what each amount was spent on."))
            if amount is None:
                raise ValidationError(_("Give an amount for “%(item)s”.", item=item))
            if amount <= 0:
                raise ValidationError(_l("Every amount spent must be more than zero."))
            rows.append((item, amount, bool(row.form.local.data)))
        self.spend_values = rows


class VerdictForm(PbForm):
    answer = RadioField(
        _l("Was it delivered as promised?"),
        choices=[SelectChoice(answer.value, label) for answer, label in ANSWER_LABELS.items()],
        validators=[DataRequired(message=_l("Choose yes, partly or no."))],
        validate_choice=False,  # the service says "Choose yes, partly or no." for anything else
    )
    comment = TextAreaField(
        _l("Comment (optional)"),
        validators=[Optional(), Length(max=1000, message=_l("Keep your comment to %(max)d characters."))],
        description=_l("Public, without your name. Up to 1,000 characters."),
    )


class ResidentCodeForm(PbForm):
    code = StringField(
        _l("Your voting code"),
        validators=[DataRequired(message=_l("Enter the code from your letter.")), Length(max=40)],
        description=_l("The code on the letter you were sent to vote, used or not."),
    )


class ResidentEmailForm(PbForm):
    email = EmailField(
        _l("The email address you voted with"),
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
    )


class ResidentEmailCodeForm(PbForm):
    code = StringField(
        _l("The six-digit code we emailed you"),
        validators=[DataRequired(message=_l("Enter the code from the email.")), Length(max=20)],
    )


class HideForm(PbForm):
    reason = StringField(
        _l("Why hide this comment?"),
        validators=[DataRequired(message=_l("Say why the comment is hidden.")), Length(max=300)],
        description=_l("Public, in the audit log. The resident's answer still counts."),
    )
