from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from ra.i18n import _l


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(message=_l("This field is required.")),
                                                  Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("This field is required.")),
                                                         Length(max=200)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(message=_l("This field is required.")),
                                                                 Length(max=200)])
    password = PasswordField(_l("New password"), validators=[
        DataRequired(message=_l("This field is required.")),
        Length(min=10, max=200, message=_l("At least 10 characters."))])
    password2 = PasswordField(_l("Repeat the password"),
                              validators=[EqualTo("password", message=_l("The passwords do not match."))])
