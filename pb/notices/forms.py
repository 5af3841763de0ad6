"""Forms for residents' news of a round: asking for it, confirming, and stopping it."""

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, RadioField, SelectChoice
from wtforms.validators import DataRequired, Email, Length

from pb.forms import PbForm


class SubscribeForm(PbForm):
    """An address to tell when voting opens and when the results are out."""

    email = EmailField(
        _l("Your email address"),
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message=_l("Enter an email address like name@example.org.")),
        ],
        description=_l("We send a link to confirm first. Your address is never linked to your vote."),
    )


class ConfirmForm(PbForm):
    """One button: yes, keep my address for this round's news."""


class StopForm(PbForm):
    """One button, with a choice of how much to stop."""

    scope = RadioField(
        _l("Which emails to stop"),
        choices=[
            SelectChoice("round", _l("Messages about this round")),
            SelectChoice("all", _l("Messages about every round, to this address")),
        ],
        default="round",
        validators=[DataRequired()],
    )
