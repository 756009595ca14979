from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from ra.enrollment.reference import District, OrganisationKind
from ra.i18n import _l

REQ = _l("This field is required.")


class RegistrationForm(FlaskForm):
    name = StringField(_l("Organisation name"), validators=[DataRequired(REQ), Length(max=300)])
    registry_number = StringField(_l("State registry number"), validators=[DataRequired(REQ)])
    kind = SelectField(_l("Kind of organisation"), validators=[DataRequired(REQ)])
    district = SelectField(_l("District"), validators=[DataRequired(REQ)])
    address = StringField(_l("Address"), validators=[DataRequired(REQ), Length(max=500)])
    phone = StringField(_l("Phone"), validators=[Optional()])
    email_domains = StringField(_l("Allowed e-mail domains"), validators=[DataRequired(REQ)],
                                description=_l("Separated by spaces or commas, e.g. gov.mn ub.gov.mn"))
    registrar_name = StringField(_l("Registration officer's full name"), validators=[DataRequired(REQ)])
    registrar_position = StringField(_l("Registration officer's position"), validators=[DataRequired(REQ)])
    registrar_email = EmailField(_l("Registration officer's e-mail"), validators=[DataRequired(REQ)])
    registrar_phone = StringField(_l("Registration officer's phone"), validators=[DataRequired(REQ)])
    password = PasswordField(_l("Password for the account"),
                             validators=[DataRequired(REQ), Length(min=10, message=_l("At least 10 characters."))])
    password2 = PasswordField(_l("Repeat the password"),
                              validators=[EqualTo("password", message=_l("The passwords do not match."))])

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.kind.choices = [("", "—")] + [(k.value, k.label) for k in OrganisationKind]
        self.district.choices = [("", "—")] + [(d.value, d.label) for d in District]


class UploadForm(FlaskForm):
    file = FileField(_l("File (PDF, PNG or JPEG, at most 10 MB)"), validators=[FileRequired(REQ)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(REQ), Length(max=2000)])


class ActivateForm(FlaskForm):
    contract_date = DateField(_l("Contract date"), validators=[Optional()])


class TemporaryAccessForm(FlaskForm):
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])


class ActionForm(FlaskForm):
    """A POST with nothing but its CSRF token (approve, reactivate)."""
