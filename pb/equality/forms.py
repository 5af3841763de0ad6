"""The equality-monitoring questions as a form, and the convening lead's switch."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, SelectChoice, ValidationError

from pb.equality.questions import QUESTIONS
from pb.forms import PbForm


def _offered(form, field):
    if field.data not in (None, "") and field.data not in {choice.value for choice in field.choices}:
        raise ValidationError(_l("That answer is not one of those offered. Choose one of the answers listed."))


def questions_form(offered: dict[str, list[str]], **kwargs) -> PbForm:
    """The questions, each offering the answers in `offered` (question id -> answer ids),
    every one optional. A value not offered (a tampered form) is refused with a message."""

    class Questions(PbForm):
        pass

    for question in QUESTIONS:
        labels = {a.id: a.label for a in question.answers}
        field = RadioField(
            question.label,
            choices=[SelectChoice(answer, labels[answer]) for answer in offered[question.id]],
            validators=[_offered],
            validate_choice=False,
            description=question.hint,
        )
        setattr(Questions, question.id, field)
    return Questions(**kwargs)


class MonitoringForm(PbForm):
    on = BooleanField(_l("Ask residents the equality-monitoring questions after they vote"))
