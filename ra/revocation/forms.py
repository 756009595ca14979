"""Forms of the revocation pages (CSRF-protected by Flask-WTF)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ra.i18n import _l
from ra.revocation.states import REQUESTABLE

REQ = _l("This field is required.")


class RequestForm(FlaskForm):
    serial = StringField(_l("Certificate serial number"), validators=[DataRequired(REQ), Length(max=64)],
                         description=_l("Hexadecimal, as printed on the handover receipt (colons allowed)."),
                         render_kw={"autocomplete": "off", "spellcheck": "false"})
    reason = SelectField(_l("Reason"), choices=[SelectChoice(r.value, r.label) for r in REQUESTABLE],
                         validators=[DataRequired(REQ)])
    invalidity_date = StringField(_l("Key compromised since (optional)"), validators=[Optional(), Length(max=40)],
                                  description=_l("When the token was lost or the key may have been exposed. "
                                                 "Ulaanbaatar time."), render_kw={"type": "datetime-local"})
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})


class DecisionForm(FlaskForm):
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the rejection"), validators=[DataRequired(REQ), Length(max=2000)],
                           render_kw={"rows": 2})


class KeepOnHoldForm(FlaskForm):
    note = TextAreaField(_l("Why the token is considered misplaced, not lost"),
                         validators=[DataRequired(REQ), Length(max=2000)], render_kw={"rows": 2})


class ReleaseForm(FlaskForm):
    serial = StringField(_l("Serial number of the token in the reader, or of the certificate"),
                         validators=[DataRequired(REQ), Length(max=64)],
                         render_kw={"autocomplete": "off", "spellcheck": "false", "autofocus": True})
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class LostReportForm(FlaskForm):
    email = StringField(_l("Your registered work e-mail"), validators=[DataRequired(REQ), Length(max=254)],
                        render_kw={"autocomplete": "email", "inputmode": "email"})
    register_number = StringField(_l("Your register number"), validators=[DataRequired(REQ), Length(max=20)],
                                  description=_l("As on your ID card, e.g. УБ85031214."),
                                  render_kw={"autocomplete": "off", "spellcheck": "false"})


class LostConfirmForm(FlaskForm):
    code = StringField(_l("Code from the e-mail"), validators=[DataRequired(REQ), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "spellcheck": "false"})
    lost = RadioField(_l("What happened to the token?"), default="misplaced", choices=[
        SelectChoice("misplaced", _l("I cannot find it: suspend my certificates for now")),
        SelectChoice("lost", _l("It is lost or stolen for certain: revoke my certificates")),
    ])
