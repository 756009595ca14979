from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ra.i18n import _l


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(message=_l("This field is required.")),
                                                  Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("This field is required.")),
                                                         Length(max=200)])
