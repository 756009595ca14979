from flask_wtf import FlaskForm
from wtforms import DateField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from ra.i18n import _l
from ra.tokens.effects import AFFILIATION_CHANGED, CESSATION_OF_OPERATION

REQ = _l("This field is required.")


class BatchForm(FlaskForm):
    model = StringField(_l("Token model"), validators=[DataRequired(REQ), Length(max=100)],
                        description=_l("As the vendor names it, e.g. SafeNet eToken 5110"))
    supplier = StringField(_l("Supplier"), validators=[DataRequired(REQ), Length(max=200)])
    received_on = DateField(_l("Date received"), validators=[DataRequired(REQ)])
    serials = TextAreaField(_l("Serial numbers"), validators=[DataRequired(REQ)],
                            description=_l("Type or scan them: one per line, or separated by spaces or commas."),
                            render_kw={"rows": 10, "autocomplete": "off", "spellcheck": "false"})
    factory_so_pin = PasswordField(_l("Factory SO PIN of this model"), validators=[Optional(), Length(max=64)],
                                   description=_l("From the vendor's delivery note. Kept encrypted. Leave empty "
                                                  "if unknown: such tokens cannot be initialised."),
                                   render_kw={"autocomplete": "off"})
    factory_so_pin2 = PasswordField(_l("Repeat the factory SO PIN"),
                                    validators=[EqualTo("factory_so_pin", message=_l("The PINs do not match."))],
                                    render_kw={"autocomplete": "off"})
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class FactorySoPinForm(FlaskForm):
    factory_so_pin = PasswordField(_l("Factory SO PIN of this model"), validators=[DataRequired(REQ), Length(max=64)],
                                   render_kw={"autocomplete": "off"})
    factory_so_pin2 = PasswordField(_l("Repeat the factory SO PIN"),
                                    validators=[EqualTo("factory_so_pin", message=_l("The PINs do not match."))],
                                    render_kw={"autocomplete": "off"})


class StateChangeForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(REQ), Length(max=500)], render_kw={"rows": 2})
    return_reason = SelectField(_l("Why the token is returned"), validators=[Optional()], choices=[
        SelectChoice(CESSATION_OF_OPERATION, _l("The holder no longer needs it (cessation of operation)")),
        SelectChoice(AFFILIATION_CHANGED, _l("The holder changed position or organisation (affiliation changed)")),
    ])


class UnblockForm(FlaskForm):
    """The holder types the new PIN on the counter keyboard; it goes to the token only."""
    pin = PasswordField(_l("New PIN"), validators=[DataRequired(REQ)], render_kw={"autocomplete": "off"})
    pin2 = PasswordField(_l("Repeat the new PIN"),
                         validators=[EqualTo("pin", message=_l("The PINs do not match."))],
                         render_kw={"autocomplete": "off"})
