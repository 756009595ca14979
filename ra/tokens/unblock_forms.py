"""Forms of the remote PIN unblock pages."""
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Length

from ra.i18n import _l

REQ = _l("This field is required.")


class UnblockAskForm(FlaskForm):
    """The holder's public request: no account needed, the registered e-mail is the proof."""
    email = EmailField(_l("Your registered work e-mail"), validators=[DataRequired(REQ), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    serial = StringField(_l("Serial number of the token"), validators=[DataRequired(REQ), Length(max=64)],
                         description=_l("Printed on the token, or shown by the token's software."),
                         render_kw={"autocomplete": "off", "spellcheck": "false"})


class UnblockForHolderForm(FlaskForm):
    """The registration officer asks for one of their holders."""
    serial = HiddenField(validators=[DataRequired(REQ), Length(max=64)])


class ResolveRotationForm(FlaskForm):
    """The officer resolves a rotation left unconfirmed (the token in the reader)."""
