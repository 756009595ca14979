"""Forms of the counter handover pages. PIN fields are never re-rendered with
their value and the browser is asked not to keep them."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ra.i18n import _l
from ra.tokens.handover_states import IdDocument

REQ = _l("This field is required.")
NO_KEEP = {"autocomplete": "off", "spellcheck": "false"}


class StartHandoverForm(FlaskForm):
    order_id = HiddenField(validators=[DataRequired(REQ)])
    id_document_type = SelectField(_l("Identity document shown"), choices=[
        SelectChoice(d.value, d.label) for d in IdDocument], default=IdDocument.ID_CARD.value)
    id_document_number = StringField(_l("Register number on the document"), validators=[DataRequired(REQ),
                                                                                         Length(max=40)],
                                     description=_l("Type it from the document itself, not from the order."),
                                     render_kw=NO_KEEP)
    token_serial = StringField(_l("Token in the reader"), validators=[Optional(), Length(max=32)])
    scanned_serial = StringField(_l("Or scan or type the token's serial number"),
                                 validators=[Optional(), Length(max=32)], render_kw=NO_KEEP)

    def serial(self) -> str:
        return (self.scanned_serial.data or self.token_serial.data or "").strip()


class PickTokenForm(FlaskForm):
    token_serial = StringField(_l("Token in the reader"), validators=[Optional(), Length(max=32)])
    scanned_serial = StringField(_l("Or scan or type the token's serial number"),
                                 validators=[Optional(), Length(max=32)], render_kw=NO_KEEP)

    def serial(self) -> str:
        return (self.scanned_serial.data or self.token_serial.data or "").strip()


class RunHandoverForm(FlaskForm):
    """The holder types the PIN on the counter keyboard, or chooses a sealed envelope."""
    pin_choice = RadioField(_l("User PIN"), choices=[
        SelectChoice("typed", _l("The holder types a PIN now")),
        SelectChoice("envelope", _l("Random PIN printed on a sealed envelope"))], default="typed")
    pin = PasswordField(_l("PIN"), validators=[Optional()], render_kw=NO_KEEP,
                        description=_l("6 to 16 characters, not one character repeated, not a sequence."))
    pin2 = PasswordField(_l("Repeat the PIN"), validators=[Optional()], render_kw=NO_KEEP)

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.pin_choice.data == "typed" and (self.pin.data or "") != (self.pin2.data or ""):
            self.pin2.errors = [_l("The PINs do not match.")]
            return False
        return True

    def user_pin(self) -> str | None:
        return (self.pin.data or None) if self.pin_choice.data == "typed" else None

    def random_pin(self) -> bool:
        return self.pin_choice.data == "envelope"


class CancelHandoverForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(REQ), Length(max=500)], render_kw={"rows": 2})
