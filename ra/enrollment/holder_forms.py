from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (BooleanField, EmailField, IntegerField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, Optional

from ra.i18n import _l

REQ = _l("This field is required.")


class HolderForm(FlaskForm):
    surname = StringField(_l("Surname (patronymic)"), validators=[DataRequired(REQ), Length(max=100)])
    given_name = StringField(_l("Given name"), validators=[DataRequired(REQ), Length(max=100)])
    clan_name = StringField(_l("Clan name"), validators=[Optional(), Length(max=100)])
    latin_surname = StringField(_l("Surname in Latin letters"), validators=[Optional(), Length(max=100)],
                                description=_l("Left empty, it is written by the MNS 5217:2012 table."))
    latin_given_name = StringField(_l("Given name in Latin letters"), validators=[Optional(), Length(max=100)])
    register_number = StringField(_l("State register number"), validators=[DataRequired(REQ), Length(max=20)],
                                  description=_l("Two Cyrillic letters and eight digits, e.g. УБ85010112"))
    position = StringField(_l("Position"), validators=[DataRequired(REQ), Length(max=200)])
    department = StringField(_l("Department"), validators=[Optional(), Length(max=200)])
    email = EmailField(_l("Work e-mail"), validators=[DataRequired(REQ), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    locale = SelectField(_l("Language of the holder's e-mails"), choices=[("mn", "Монгол"), ("en", "English")])


class HolderDocumentsForm(FlaskForm):
    """One form for the four documents; any may be left empty."""
    application_form = FileField(_l("Application form"))
    id_card = FileField(_l("ID card copy"))
    appointment_order = FileField(_l("Appointment order copy"))
    subscriber_agreement = FileField(_l("Signed subscriber agreement"))


class OrderForm(FlaskForm):
    profile = SelectField(_l("Certificate profile"), validators=[DataRequired(REQ)])


class PositionForm(FlaskForm):
    position = StringField(_l("New position"), validators=[DataRequired(REQ), Length(max=200)])
    department = StringField(_l("Department"), validators=[Optional(), Length(max=200)])


class ImportForm(FlaskForm):
    file = FileField(_l("CSV or XLSX file"))


class DecisionForm(FlaskForm):
    """Approve (with the documents ticked) or reject (with a reason)."""
    checked = SelectMultipleField(_l("Documents checked"), choices=[], validate_choice=False)
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


class BookingForm(FlaskForm):
    order_ids = SelectMultipleField(_l("Approved orders"), choices=[], validate_choice=False)
    starts_at = StringField(_l("Time"), validators=[DataRequired(REQ)])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])


class CounterForm(FlaskForm):
    name = StringField(_l("Counter name"), validators=[DataRequired(REQ), Length(max=100)])
    location = StringField(_l("Location"), validators=[Optional(), Length(max=300)])
    opens_at = StringField(_l("Opens at"), validators=[DataRequired(REQ)], default="09:00")
    closes_at = StringField(_l("Closes at"), validators=[DataRequired(REQ)], default="17:00")
    break_starts = StringField(_l("Break from"), validators=[Optional()], default="12:00")
    break_ends = StringField(_l("Break until"), validators=[Optional()], default="13:00")
    slot_minutes = IntegerField(_l("Slot length (minutes)"), validators=[DataRequired(REQ)], default=20)
    capacity = IntegerField(_l("Holders per slot"), validators=[DataRequired(REQ)], default=2)
    weekdays = SelectMultipleField(_l("Working days"), default=["1", "2", "3", "4", "5"], choices=[
        ("1", _l("Monday")), ("2", _l("Tuesday")), ("3", _l("Wednesday")), ("4", _l("Thursday")),
        ("5", _l("Friday")), ("6", _l("Saturday")), ("7", _l("Sunday"))])
    is_active = BooleanField(_l("Open for booking"), default=True)
