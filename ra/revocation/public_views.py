"""Public revocation pages and endpoints, on the ``revocation`` blueprint, without
login:

- ``/lost-token``: the holder reports a lost token from a phone, at any hour
  (registered work e-mail + register number → a one-time code), and
  ``/lost-token/<reference>`` confirms it with the code: the certificates are
  put on hold at once, or revoked when the holder says the token is lost for
  certain.
- ``/revocation-lists``: the published lists, revoked and suspended separately,
  as the State CA publishes them; ``/ca/crl/<name>.pem`` the CRL as PEM (the DER
  is served at the CRL distribution point, ``/ca/crl/<name>.crl``).
- ``/ocsp``: the embedded CA's OCSP responder (RFC 6960, POST and GET per
  Appendix A.1) at the URL every certificate's AIA names.
"""
from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from cryptography.hazmat.primitives import serialization
from flask import Response, abort, redirect, render_template, request, url_for

from ra.db import commit
from ra.errors import NotFound, RAError
from ra.extensions import csrf, db
from ra.i18n import _l
from ra.ports import current_ports
from ra.revocation import jobs, lost_reports, publication
from ra.revocation.errors import ReportsThrottled
from ra.revocation.forms import LostConfirmForm, LostReportForm
from ra.revocation.views import bp
from ra.web import error_response, page_arg

LIST_PAGE = 100
OCSP_MAX_BYTES = 64 * 1024


def client_address() -> str:
    """The client's own address (behind the proxies named in RA_TRUSTED_PROXIES)."""
    return request.remote_addr or "-"


def sent_if_matched():
    """The one answer to a report, matched or not."""
    return _l("If this e-mail is the registered address of the holder of this token, a code has been sent to it. "
              "It is valid for %(minutes)d minutes. If a code was sent in the last %(minutes)d minutes, use that "
              "one.", minutes=lost_reports.CODE_MINUTES)


def send_after_response(response, asked):
    """The code goes out once the answer has: its timing tells nothing."""
    if asked.mail is not None:
        ports, mail = current_ports(), asked.mail
        response.call_on_close(lambda: lost_reports.deliver_code(mail, ports=ports))
    return response


def report(email: str, serial: str):
    """The report as one unit of work; the caller answers (429 when throttled)."""
    asked = lost_reports.report_lost(db.session, email=email, serial=serial, client=client_address(),
                                     ports=current_ports())
    commit()
    return asked


def report_by_person(email: str, register_number: str):
    """``report`` for someone without the token's serial at hand."""
    asked = lost_reports.report_lost_by_person(db.session, email=email, register_number=register_number,
                                               client=client_address(), ports=current_ports())
    commit()
    return asked


def throttled_response(asked):
    """429 for the API, the report kept and its code (if one was due) sent."""
    exc = ReportsThrottled(minutes=lost_reports.CODE_MINUTES)
    resp, status = error_response(exc.status, exc.code, exc.render())
    resp.status_code = status
    return send_after_response(resp, asked)


def confirm(reference: str, code: str, lost: bool, picked: list[str] | None = None):
    """The code proved: holds (and the holder's own revocation) carried out through
    the CA connector after the commit."""
    ports = current_ports()
    return jobs.run(db.session, lambda done: done.report.email, lambda: lost_reports.confirm_report(
        db.session, reference=reference, code=code, lost=lost, client=client_address(), ports=ports,
        picked=picked), ports=ports)


def tokens_to_pick(reference: str, code: str) -> list:
    """The person's tokens, when the code proves the report and there is more than
    one to choose from; nothing is carried out yet."""
    try:
        report = lost_reports.proved(db.session, reference=reference, code=code, client=client_address(),
                                     ports=current_ports())
    except RAError:
        commit()  # a wrong code is counted, as at the confirmation
        raise
    tokens = lost_reports.tokens_to_pick(db.session, report)
    commit()
    return tokens if len(tokens) > 1 else []


@bp.route("/lost-token", methods=["GET", "POST"])
def report_lost_token():
    form = LostReportForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 200 if request.method == "GET" else (400 if form.csrf_token.errors else 422)
        return render_template("revocation/lost_report.html", form=form), status
    asked = report_by_person(form.email.data, form.register_number.data)
    if asked.throttled:
        resp = Response(render_template("revocation/lost_report.html", form=form, throttled=True,
                                        message=ReportsThrottled(minutes=lost_reports.CODE_MINUTES).render()),
                        status=429)
        return send_after_response(resp, asked)
    resp = redirect(url_for("revocation.confirm_lost_token", reference=asked.receipt, sent=1), 303)
    return send_after_response(resp, asked)


@bp.route("/lost-token/<reference>", methods=["GET", "POST"])
def confirm_lost_token(reference):
    form = LostConfirmForm()
    context = {"form": form, "reference": reference, "sent": request.args.get("sent") == "1",
               "message": sent_if_matched()}
    if request.method == "GET" or not form.validate_on_submit():
        status = 200 if request.method == "GET" else (400 if form.csrf_token.errors else 422)
        return render_template("revocation/lost_confirm.html", **context), status
    picked = request.form.getlist("token") or None
    try:
        if picked is None:
            choices = tokens_to_pick(reference, form.code.data)
            if choices:  # more than one token: the holder says which are lost
                return render_template("revocation/lost_confirm.html", choices=choices, **context)
        done = confirm(reference, form.code.data, form.lost.data == "lost", picked)
    except RAError as exc:
        db.session.rollback()
        return render_template("revocation/lost_confirm.html", error=exc.render(), **context), exc.status
    return render_template("revocation/lost_done.html", done=done, report=done.report,
                           requests=[db.session.get(type(r), r.id) for r in done.requests])


# -- publication ----------------------------------------------------------------------------------

def _crl(name: str):
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_" for c in name):
        raise NotFound()
    crl = current_ports().ca.crl(name)
    commit()  # a CRL built now is kept, with its number
    return crl


@bp.route("/ca/crl/<name>.pem")
def crl_pem(name):
    crl = _crl(name)
    resp = Response(crl.public_bytes(serialization.Encoding.PEM), mimetype="application/x-pem-file")
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.crl.pem"'
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.route("/revocation-lists")
def published_lists():
    ports = current_ports()
    which = request.args.get("list", "")
    page = page_arg()
    shown = []
    for authority in ports.ca.authorities():
        shown.append((authority, publication.lists_of(authority.name, ports.ca.crl(authority.name))))
    commit()
    return render_template("revocation/lists.html", shown=shown, which=which, page=page, per_page=LIST_PAGE)


# -- OCSP (RFC 6960) --------------------------------------------------------------------------------

def _ocsp(request_der: bytes) -> Response:
    ports = current_ports()
    if not hasattr(ports.ca, "ocsp_responder"):
        raise NotFound()
    der = publication.answer_ocsp(db.session, ports, request_der)
    commit()  # a responder certificate issued now is kept
    resp = Response(der, mimetype="application/ocsp-response")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/ocsp", methods=["POST"])
@csrf.exempt
def ocsp_post():
    if (request.content_length or 0) > OCSP_MAX_BYTES:
        abort(413)
    return _ocsp(request.get_data(cache=False))


@bp.route("/ocsp/<path:encoded>", methods=["GET"])
def ocsp_get(encoded):
    try:
        der = base64.b64decode(unquote(encoded), validate=False)
    except (binascii.Error, ValueError):
        der = b""
    return _ocsp(der)

