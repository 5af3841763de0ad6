"""Forms for setting up a round."""

import re

from babel.numbers import get_currency_name
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    FieldList,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, StopValidation

from pb.fields import CheckboxesField, LinesField, MoneyField, PostcodesField
from pb.forms import PbForm, RowForm
from pb.rounds.models import (
    CURRENCIES,
    DECLARED_FIELD_LABELS,
    ELIGIBILITY_LABELS,
    ELIGIBILITY_PROOFS,
    MAX_POINTS,
    POINTS_MAX,
    POINTS_TOTAL,
    RULE_NAMES,
    BallotKind,
)


class RoundForm(PbForm):
    organisation = SelectField(_l("Convening anchor"), coerce=int)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    purpose = TextAreaField(
        _l("Purpose"),
        validators=[Length(max=5000)],
        description=_l("What the round is for, in plain words residents will read."),
    )
    eligibility = TextAreaField(
        _l("Who may vote"),
        validators=[Length(max=2000)],
        description=_l("For example: people who live, work or study in the areas below."),
    )
    minimum_age = IntegerField(
        _l("Minimum age to vote"),
        validators=[Optional(), NumberRange(min=0, max=120, message=_l("Enter an age between 0 and 120."))],
    )
    methods = CheckboxesField(
        _l("How residents prove they may vote"),
        choices=[SelectChoice(m.value, label) for m, label in ELIGIBILITY_LABELS.items()],
        validators=[DataRequired(message=_l("Choose at least one way."))],
        hints={m.value: proof for m, proof in ELIGIBILITY_PROOFS.items()},
    )
    declares = CheckboxesField(
        _l("What residents declare, if they vote by telling us who they are"),
        choices=[SelectChoice(f.value, label) for f, label in DECLARED_FIELD_LABELS.items()],
        description=_l(
            "Their postcode too, always. Choose the name, the address or both: "
            "the same details declared again give the same voter."
        ),
    )
    currency = SelectField(
        _l("Currency"),
        default="GBP",
        description=_l(
            "The money pledged, the budgets and the costs of projects are all in it. It cannot change once money is pledged."
        ),
    )
    categories = LinesField(
        _l("Categories"), description=_l("One per line, e.g. Health, Green spaces, Young people."), max_length=100
    )
    max_project_cost = MoneyField(_l("Most a single project may cost (optional)"), validators=[Optional()])
    objectives = LinesField(
        _l("Charter objectives"),
        description=_l(
            "The shared objectives the partner anchors agree to pursue, one per line, e.g. Reduce health inequalities."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Named in the reader's language, e.g. "British pound (GBP)" or "Punt Prydain (GBP)".
        self.currency.choices = [
            SelectChoice(code, f"{get_currency_name(code, locale=get_locale())} ({code})") for code in CURRENCIES
        ]


class TimelineForm(PbForm):
    proposals_open_at = DateTimeLocalField(_l("Proposals open"), validators=[Optional()])
    screening_at = DateTimeLocalField(_l("Screening starts (proposals close)"), validators=[Optional()])
    voting_opens_at = DateTimeLocalField(_l("Voting opens"), validators=[Optional()])
    voting_closes_at = DateTimeLocalField(_l("Voting closes"), validators=[Optional()])
    results_at = DateTimeLocalField(_l("Results published"), validators=[Optional()])
    # Offered only once saving was refused because a date has passed (pb.rounds.services.MovesOnNow).
    move_now = BooleanField(_l("Move the round on now to the phases whose dates have passed"))


class AreaForm(PbForm):
    name = StringField(_l("Name of the area"), validators=[DataRequired(), Length(max=120)])
    postcodes = PostcodesField(
        _l("Postcodes"),
        description=_l("Postcodes or their beginnings, one per line or separated by commas, e.g. LS6, LS7 3."),
        max_items=2000,
        max_length=10,
    )
    # Facts about the area, correctable after voting opens (the only fields offered then).
    population = IntegerField(
        _l("Population (optional)"),
        validators=[
            Optional(),
            NumberRange(min=0, max=100_000_000, message=_l("Enter the number of people as a whole number, 0 or more.")),
        ],
        description=_l("How many people live in the area, for turnout. It is not a ballot rule."),
    )
    electorate = IntegerField(
        _l("Electorate (optional)"),
        validators=[
            Optional(),
            NumberRange(min=0, max=100_000_000, message=_l("Enter the number of people as a whole number, 0 or more.")),
        ],
        description=_l(
            "How many of them may vote in this round. Turnout is a share of the electorate when you give it, "
            "else of the population."
        ),
    )

    def validate_electorate(self, field):
        population = self.population.data
        if field.data is not None and population is not None and field.data > population:
            raise ValidationError(_l("The electorate cannot be larger than the population."))


def needed_for_points(message):
    """Like Optional, except that a points ballot needs the number (`message` if it is left out)."""

    def check(form, field) -> None:
        if not field.raw_data or not str(field.raw_data[0]).strip():
            field.errors[:] = []
            if form.ballot_kind.data == BallotKind.POINTS.value:
                raise StopValidation(message)
            raise StopValidation()

    return check


class ContestForm(PbForm):
    name = StringField(_l("Name of the ballot paper"), validators=[DataRequired(), Length(max=120)])
    area = SelectField(_l("Who votes on it"), coerce=int)
    ballot_kind = SelectField(
        _l("Ballot"),
        choices=[
            SelectChoice(BallotKind.APPROVAL.value, _l("Approval: tick the projects you support")),
            SelectChoice(BallotKind.RANKED.value, _l("Ranked: put projects in order of preference")),
            SelectChoice(BallotKind.POINTS.value, _l("Points: share out points between the projects")),
        ],
    )
    min_picks = IntegerField(
        _l("Fewest projects a voter must tick"), default=1, validators=[NumberRange(min=1, max=100)]
    )
    max_picks = IntegerField(_l("Most projects a voter may tick"), default=5, validators=[NumberRange(min=1, max=100)])
    limit_to_budget = BooleanField(_l("The ticked projects together must not cost more than the budget"))
    rank_depth = IntegerField(
        _l("How many projects a voter ranks"),
        default=3,
        validators=[NumberRange(min=1, max=20)],
        description=_l("With 3, a first choice gets 3 points, a second 2 and a third 1."),
    )
    points_total = IntegerField(
        _l("Points each voter has (points ballots)"),
        default=POINTS_TOTAL,
        validators=[
            needed_for_points(_l("Enter how many points each voter has.")),
            NumberRange(
                min=1, max=MAX_POINTS, message=_l("Give each voter between 1 and %(max)d points.", max=MAX_POINTS)
            ),
        ],
        description=_l("For example 10: a voter gives them to the projects they want, in whole points."),
    )
    points_max = IntegerField(
        _l("Most points on one project (points ballots)"),
        default=POINTS_MAX,
        validators=[
            needed_for_points(_l("Enter the most points a voter may give one project.")),
            NumberRange(
                min=1, max=MAX_POINTS, message=_l("Allow between 1 and %(max)d points on one project.", max=MAX_POINTS)
            ),
        ],
        description=_l("For example 5, so that nobody puts all their points on one project."),
    )
    rule = SelectField(_l("Counting rule"), choices=[SelectChoice(rule, name) for rule, name in RULE_NAMES.items()])

    def validate_points_max(self, field) -> None:
        if self.ballot_kind.data != BallotKind.POINTS.value:
            return
        if self.points_total.data is not None and field.data is not None and field.data > self.points_total.data:
            raise ValidationError(_l("The most points on one project cannot be more than the points each voter has."))


class PartnerForm(PbForm):
    organisation = SelectField(_l("Anchor institution"), coerce=int)


class PotForm(PbForm):
    organisation = SelectField(_l("Pledged by"), coerce=int)
    contest = SelectField(_l("Into ballot paper"), coerce=int)
    name = StringField(
        _l("Public name of the pot"),
        validators=[DataRequired(), Length(max=160)],
        description=_l("For example: NHS Trust health inequalities fund."),
    )
    amount = MoneyField(_l("Amount"), validators=[DataRequired(message=_l("Enter an amount."))])


class RaisePotForm(PbForm):
    amount = MoneyField(_l("New amount"), validators=[DataRequired(message=_l("Enter an amount."))])


class ConfirmForm(PbForm):
    confirm = BooleanField(_l("I understand what this move does, and that it cannot be undone"))


class DeleteForm(PbForm):
    confirm = BooleanField(_l("Delete this draft, with its areas, ballot papers and pledges"))


class SuspensionForm(PbForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Shown to everyone on the round's page while voting is suspended, and kept in the audit log."),
    )


class OfficerForm(PbForm):
    email = EmailField(
        _l("Email address of the returning officer"),
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
        description=_l("They need an account on pb, and must not belong to any anchor that funds this round."),
    )


QUESTION_ROWS = 10
PLACE_ROWS = 8


class QuestionRowForm(RowForm):
    question = StringField(_l("Question"), validators=[Optional(), Length(max=300)])
    answer = TextAreaField(_l("Answer"), validators=[Optional(), Length(max=2000)])
    order = IntegerField(_l("Place in the list"), validators=[Optional(), NumberRange(min=1, max=QUESTION_ROWS)])


class PlaceRowForm(RowForm):
    name = StringField(_l("Name of the place"), validators=[Optional(), Length(max=200)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    opening_times = TextAreaField(_l("Opening times"), validators=[Optional(), Length(max=500)])


class HelpForm(PbForm):
    """A round's organiser contact, its questions and answers, and its paper-voting places."""

    contact_name = StringField(
        _l("Name or team"),
        validators=[Optional(), Length(max=200)],
        description=_l("For example: Eastshire Council participatory budgeting team."),
    )
    contact_email = EmailField(
        _l("Email address"),
        validators=[Optional(), Length(max=254), Email(message=_l("Enter an email address like name@example.org."))],
    )
    contact_phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=40)])
    contact_address = TextAreaField(_l("Postal address (optional)"), validators=[Optional(), Length(max=500)])
    contact_hours = TextAreaField(
        _l("When you answer (optional)"),
        validators=[Optional(), Length(max=500)],
        description=_l("For example: Monday to Friday, 9am to 5pm."),
    )
    questions = FieldList(FormField(QuestionRowForm), min_entries=QUESTION_ROWS, max_entries=QUESTION_ROWS)
    places = FieldList(FormField(PlaceRowForm), min_entries=PLACE_ROWS, max_entries=PLACE_ROWS)

    def validate_contact_phone(self, field):
        if field.data and not re.fullmatch(r"[0-9+() .\-]{3,40}", field.data.strip()):
            raise ValidationError(_l("Enter a phone number using digits, spaces and + ( ) - only."))

    def validate_questions(self, field):
        rows = []
        for index, row in enumerate(field.entries):
            question, answer = (row.form.question.data or "").strip(), (row.form.answer.data or "").strip()
            if not question and not answer:
                continue
            if not question or not answer:
                raise ValidationError(_l("Give each question its answer, or leave both empty to remove it."))
            rows.append((row.form.order.data or index + 1, index, question, answer))
        self.question_values = [(question, answer) for _order, _index, question, answer in sorted(rows)]

    def validate_places(self, field):
        rows = []
        for row in field.entries:
            name, address, times = ((row.form[key].data or "").strip() for key in ("name", "address", "opening_times"))
            if not name and not address and not times:
                continue
            if not name:
                raise ValidationError(_l("Give each place a name, or leave its lines empty to remove it."))
            rows.append((name, address, times))
        self.place_values = rows


def limits_form(categories, formdata=None):
    """A ballot paper's limits: the fewest and the most projects of each of the round's
    categories (`categories`: (id, name) pairs), each optional."""

    class LimitsForm(PbForm):
        pass

    for category_id, name in categories:
        setattr(
            LimitsForm,
            f"fewest_{category_id}",
            IntegerField(
                _l("Fewest to tick in %(category)s", category=name),
                validators=[Optional(), NumberRange(min=0, max=100)],
            ),
        )
        setattr(
            LimitsForm,
            f"most_{category_id}",
            IntegerField(
                _l("Most to tick in %(category)s", category=name),
                validators=[Optional(), NumberRange(min=0, max=100)],
            ),
        )
    return LimitsForm(formdata=formdata)
