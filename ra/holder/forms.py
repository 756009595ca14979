from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ra.i18n import _l

REQUIRED = _l("This field is required.")


class LinkRequestForm(FlaskForm):
    email = EmailField(_l("Work e-mail"), validators=[DataRequired(message=REQUIRED), Length(max=254)])


class ActivationForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(message=REQUIRED), Length(max=200)])
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(message=REQUIRED), EqualTo("password", message=_l("The two passwords differ."))])


class StepUpForm(FlaskForm):
    """The second click of a sensitive action: the e-mailed code."""
    code = StringField(_l("Code from the e-mail"), validators=[DataRequired(message=REQUIRED), Length(max=20)])
    lost = BooleanField(_l("The token is lost for certain (not just misplaced): revoke its certificates now"))


class BookForm(FlaskForm):
    slot = HiddenField(validators=[DataRequired(message=REQUIRED)])  # "counter_id@ISO start"
