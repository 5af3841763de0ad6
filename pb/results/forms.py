"""Forms on the results pages."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from pb.forms import PbForm


class ReceiptForm(PbForm):
    receipt = StringField(
        _l("Your receipt code"),
        validators=[DataRequired(message=_l("Enter the receipt code you were given when you voted.")), Length(max=40)],
        description=_l("Like ABCDE-FGHJK."),
    )
