"""Pages for holders, orders, bulk import, approval and counter appointments, on the
``enrollment`` blueprint: parse → policy → service → commit → respond."""
from __future__ import annotations

import logging
from datetime import date

import click
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from ra.auth import policy
from ra.db import commit
from ra.enrollment import appointments_service as appts
from ra.enrollment import bulk_import
from ra.enrollment import holder_queries as q
from ra.enrollment import holders_service as hs
from ra.enrollment import orders_service as orders
from ra.enrollment import policy as ep
from ra.enrollment import queries as org_queries
from ra.enrollment.holder_forms import (BookingForm, CounterForm, DecisionForm, HolderDocumentsForm, HolderForm,
                                        ImportForm, OrderForm, PositionForm)
from ra.enrollment.holder_models import HolderDocumentKind
from ra.enrollment.order_states import OrderStatus
from ra.enrollment.views import bp
from ra.errors import RAError, UserError, ValidationFailed
from ra.extensions import db
from ra.i18n import _l
from ra.localtime import LOCAL_TZ
from ra.ports import current_ports
from ra.uploads import MAX_BYTES, send_upload
from ra.web import int_arg, page_arg

log = logging.getLogger("ra.enrollment")
ANNEX_INLINE_LIMIT = 300  # more holders than this: the annex is left to `flask --app ra enrollment annexes`


def _user():
    return current_user._get_current_object()


def _own_org():
    if current_user.organisation_id is None:
        abort(404)
    return org_queries.get_organisation(db.session, _user(), current_user.organisation_id)


def _run(action, message, target, on_error):
    """One service call as a unit of work; a typed error is flashed and nothing is half-done."""
    try:
        result = action()
        commit()
    except RAError as exc:
        db.session.rollback()
        flash(exc.render(), "danger")
        return on_error(exc)
    if message:
        flash(message, "success")
    return redirect(target(result) if callable(target) else target, 303)


def issue_pending_annex(org, actor) -> bool:
    """After holders were committed, the numbered annex is made in its own unit of
    work; if it fails or is too large for a request, the holders stay pending and
    the worker command makes it."""
    if org.contract is None:
        return False
    pending = hs.pending_annex_count(db.session, org)
    if not pending or pending > ANNEX_INLINE_LIMIT:
        return False
    try:
        hs.generate_pending_annex(db.session, actor, org, ports=current_ports())
        commit()
    except Exception:
        db.session.rollback()
        log.exception("annex for organisation %s not generated; the worker will retry", org.id)
        return False
    return True


@bp.cli.command("annexes")
def annexes_cmd():
    """Generate the contract annexes for holders not yet listed (meant for cron)."""
    made = 0
    for org in q.organisations_with_unlisted_holders(db.session):
        made += hs.generate_pending_annex(db.session, "worker", org, ports=current_ports()) is not None
        commit()
    click.echo(f"annexes generated: {made}")


# --- holders ---

@bp.route("/holders")
@login_required
def list_holders():
    org = (org_queries.get_organisation(db.session, _user(), request.args["org"]) if request.args.get("org")
           else _own_org())
    rows = q.list_holders(db.session, _user(), org)
    return render_template("enrollment/holders/list.html", org=org, rows=rows, annexes=q.annexes(org),
                           can_manage=ep.can_manage_holders(_user(), org), missing=hs.missing_documents)


@bp.route("/holders/new", methods=["GET", "POST"])
@login_required
def create_holder():
    org = _own_org()
    policy.require(ep.can_manage_holders(_user(), org))
    form = HolderForm()
    errors, status = {}, 200
    if request.method == "POST":
        if not form.validate_on_submit() and form.csrf_token.errors:
            abort(400)
        try:
            holder = hs.create_holder(db.session, _user(), org, hs.HolderData.from_mapping(form.data),
                                      ports=current_ports())
            commit()
        except RAError as exc:
            db.session.rollback()
            errors, status = getattr(exc, "errors", {}), exc.status
            if not errors:
                flash(exc.render(), "danger")
        else:
            issue_pending_annex(org, _user())
            flash(_l("The holder was added. Upload their four documents next."), "success")
            return redirect(url_for("enrollment.show_holder", holder_id=holder.id), 303)
    return render_template("enrollment/holders/new.html", form=form, errors=errors, org=org), status


def _holder_page(holder, status=200, errors=None, edit_form=None):
    user = _user()
    form = edit_form or HolderForm(obj=holder)
    order_form = OrderForm()
    order_form.profile.choices = [(p.name, p.labels.get(str(current_user.locale), p.name))
                                  for p in current_ports().profiles.values()]
    issued = orders.latest_issued(db.session, holder)
    opens = orders.renewal_opens(issued) if issued else None
    return render_template(
        "enrollment/holders/holder.html", holder=holder, form=form, errors=errors or {}, order_form=order_form,
        docs_form=HolderDocumentsForm(), position_form=PositionForm(), kinds=list(HolderDocumentKind),
        orders=q.holder_orders(db.session, holder), changes=q.position_changes(db.session, holder),
        can_manage=ep.can_manage_holders(user, holder.organisation),
        can_upload=ep.can_upload_holder_document(user, holder), issued=issued,
        renewal_open=bool(opens and current_ports().clock.now() >= opens), renewal_opens=opens), status


@bp.route("/holders/<int:holder_id>")
@login_required
def show_holder(holder_id):
    return _holder_page(q.get_holder(db.session, _user(), holder_id))


@bp.route("/holders/<int:holder_id>/edit", methods=["POST"])
@login_required
def update_holder(holder_id):
    holder = q.get_holder(db.session, _user(), holder_id)
    form = HolderForm()
    form.validate_on_submit()
    data = hs.HolderData.from_mapping({**form.data, "position": holder.position, "department": holder.department})
    try:
        changed = hs.update_holder(db.session, _user(), holder, data, ports=current_ports())
        commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _holder_page(q.get_holder(db.session, _user(), holder_id), 422, exc.errors, form)
    flash(_l("Saved.") if changed else _l("Nothing was changed."), "success")
    return redirect(url_for("enrollment.show_holder", holder_id=holder.id), 303)


def _holder_action(holder_id, fn, message):
    holder = q.get_holder(db.session, _user(), holder_id)
    return _run(lambda: fn(holder), message, url_for("enrollment.show_holder", holder_id=holder_id),
                lambda exc: _holder_page(q.get_holder(db.session, _user(), holder_id), exc.status,
                                         getattr(exc, "errors", None)))


@bp.route("/holders/<int:holder_id>/documents", methods=["POST"])
@login_required
def upload_holder_documents(holder_id):
    form = HolderDocumentsForm()
    if not form.validate_on_submit():
        abort(400)
    files = [(kind, request.files.get(kind.value)) for kind in HolderDocumentKind]
    files = [(k, f) for k, f in files if f is not None and f.filename]
    if not files:
        raise UserError(_l("Choose at least one file to upload."))

    def upload(holder):
        for kind, f in files:
            hs.upload_holder_document(db.session, _user(), holder, kind, f.filename, f.stream.read(MAX_BYTES + 1),
                                      ports=current_ports())
    return _holder_action(holder_id, upload, _l("The documents were uploaded."))


@bp.route("/holders/<int:holder_id>/orders", methods=["POST"])
@login_required
def create_order(holder_id):
    form = OrderForm()
    form.profile.choices = [(n, n) for n in current_ports().profiles]
    form.validate_on_submit()
    return _holder_action(holder_id, lambda h: orders.create_order(db.session, _user(), h, profile=form.profile.data,
                                                                   ports=current_ports()),
                          _l("The order was filed."))


@bp.route("/holders/<int:holder_id>/renew", methods=["POST"])
@login_required
def renew_certificate(holder_id):
    DecisionForm().validate_on_submit()
    profile = request.form.get("profile") or "signing"
    return _holder_action(holder_id, lambda h: orders.file_renewal(db.session, _user(), h, profile=profile,
                                                                   ports=current_ports()),
                          _l("The renewal order was filed."))


@bp.route("/holders/<int:holder_id>/position", methods=["POST"])
@login_required
def change_position(holder_id):
    form = PositionForm()
    form.validate_on_submit()
    return _holder_action(holder_id, lambda h: orders.change_position(
        db.session, _user(), h, position=form.position.data or "", department=form.department.data or "",
        ports=current_ports()), _l("The new position is recorded and a new order was filed."))


@bp.route("/holders/<int:holder_id>/remove", methods=["POST"])
@login_required
def remove_holder(holder_id):
    DecisionForm().validate_on_submit()
    return _holder_action(holder_id, lambda h: hs.remove_holder(db.session, _user(), h),
                          _l("The holder is marked as having left the organisation."))


@bp.route("/holder-documents/<int:doc_id>")
@login_required
def download_holder_document(doc_id):
    doc = hs.get_holder_document(db.session, _user(), doc_id)
    policy.require(ep.can_download_holder_document(_user(), doc.holder))
    return send_upload(current_ports().files.path(doc.stored_name), mimetype=doc.content_type,
                       download_name=doc.original_name)


@bp.route("/holder-documents/<int:doc_id>/check", methods=["POST"])
@login_required
def check_holder_document(doc_id):
    DecisionForm().validate_on_submit()
    doc = hs.get_holder_document(db.session, _user(), doc_id)
    back = request.form.get("order_id")
    target = (url_for("enrollment.show_order", order_id=int(back)) if str(back).isdigit()
              else url_for("enrollment.show_holder", holder_id=doc.holder_id))
    return _run(lambda: hs.check_holder_document(db.session, _user(), doc, ports=current_ports()),
                _l("Marked as checked."), target, lambda exc: redirect(target, 303))


@bp.route("/annexes/<int:doc_id>.pdf")
@login_required
def download_annex(doc_id):
    doc = org_queries.get_generated(db.session, _user(), doc_id)
    policy.require(policy.can_download_organisation_document(_user(), doc.organisation))
    return send_file(current_ports().files.path(doc.stored_name), mimetype="application/pdf", as_attachment=True,
                     download_name=f"{doc.kind.value}-{doc.id}.pdf")


# --- orders ---

@bp.route("/orders")
@login_required
def list_orders():
    try:
        status = OrderStatus(request.args["status"]) if request.args.get("status") else None
    except ValueError:
        abort(400)
    page = page_arg()
    rows, total = q.list_orders(db.session, _user(), status=status, page=page)
    return render_template("enrollment/holders/orders.html", rows=rows, total=total, page=page, status=status,
                           statuses=list(OrderStatus))


@bp.route("/orders/approval")
@login_required
def approval_queue():
    policy.require(ep.can_decide_order(_user()))
    return render_template("enrollment/holders/approval.html", rows=q.approval_queue(db.session, _user()),
                           kinds=list(HolderDocumentKind), form=DecisionForm())


@bp.route("/orders/<int:order_id>")
@login_required
def show_order(order_id, status=200):
    order = q.get_order(db.session, _user(), order_id)
    user = _user()
    missing, unchecked = hs.missing_documents(order.holder)
    return render_template(
        "enrollment/holders/order.html", order=order, holder=order.holder, kinds=list(HolderDocumentKind),
        form=DecisionForm(), missing=missing, unchecked=unchecked, can_decide=ep.can_decide_order(user, order),
        is_party=ep.is_party_to(user, order), can_cancel=ep.can_cancel_order(user, order),
        can_file=ep.can_file_order(user, order.holder), S=OrderStatus), status


def _order_action(order_id, fn, message):
    order = q.get_order(db.session, _user(), order_id)
    return _run(lambda: fn(order), message, url_for("enrollment.show_order", order_id=order_id),
                lambda exc: show_order(order_id, exc.status))


def _decision_view(verb):
    """approve (with the documents ticked), reject and cancel (with a reason), submit a draft."""
    def view(order_id):
        form, ports, user = DecisionForm(), current_ports(), _user()
        form.validate_on_submit()
        fn, message = {
            "approve": (lambda o: orders.approve_order(db.session, user, o, checked_document_ids=form.checked.data
                                                       or [], ports=ports),
                        _l("The order is approved. The registration officer and the holder were told.")),
            "reject": (lambda o: orders.reject_order(db.session, user, o, form.reason.data or "", ports=ports),
                       _l("The order is rejected.")),
            "cancel": (lambda o: orders.cancel_order(db.session, user, o, form.reason.data or "", ports=ports),
                       _l("The order is cancelled.")),
            "submit": (lambda o: orders.submit_order(db.session, user, o, ports=ports), _l("The order was filed.")),
        }[verb]
        return _order_action(order_id, fn, message)
    return login_required(view)


for _verb in ("approve", "reject", "cancel", "submit"):  # endpoints enrollment.<verb>_order
    bp.add_url_rule(f"/orders/<int:order_id>/{_verb}", endpoint=f"{_verb}_order", view_func=_decision_view(_verb),
                    methods=["POST"])


# --- bulk import ---

@bp.route("/orders/import", methods=["GET", "POST"])
@login_required
def import_orders():
    org = _own_org()
    policy.require(ep.can_manage_holders(_user(), org))
    form = ImportForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        f = request.files.get("file")
        if f is None or not f.filename:
            flash(_l("Choose a CSV or XLSX file."), "danger")
            return render_template("enrollment/holders/import.html", form=form, org=org), 400
        return _run(lambda: bulk_import.store_and_check(db.session, _user(), org, f.filename, f.stream.read(),
                                                        ports=current_ports()), None,
                    lambda batch: url_for("enrollment.show_import", import_id=batch.id),
                    lambda exc: (render_template("enrollment/holders/import.html", form=form, org=org), exc.status))
    return render_template("enrollment/holders/import.html", form=form, org=org)


@bp.route("/orders/import/template.<any(xlsx, csv):fmt>")
@login_required
def download_import_template(fmt):
    from io import BytesIO
    data = bulk_import.template_xlsx() if fmt == "xlsx" else bulk_import.template_csv()
    mime = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return send_file(BytesIO(data), mimetype=mime, as_attachment=True, download_name=f"orders-template.{fmt}")


@bp.route("/orders/import/<int:import_id>")
@login_required
def show_import(import_id, status=200):
    import json
    batch = q.get_import(db.session, _user(), import_id)
    return render_template("enrollment/holders/import_report.html", batch=batch, report=json.loads(batch.report),
                           form=DecisionForm()), status


@bp.route("/orders/import/<int:import_id>/commit", methods=["POST"])
@login_required
def commit_import(import_id):
    DecisionForm().validate_on_submit()
    batch = q.get_import(db.session, _user(), import_id)
    org = bulk_import.batch_org(db.session, batch)
    try:
        report = bulk_import.commit_batch(db.session, _user(), batch, ports=current_ports())
        commit()
    except RAError as exc:
        if exc.code == "changed":  # keep the new report so the user sees why
            commit()
        else:
            db.session.rollback()
        flash(exc.render(), "danger")
        return show_import(import_id, exc.status)
    if not issue_pending_annex(org, _user()) and org.contract is not None:
        flash(_l("The contract annex listing them will be generated shortly."), "warning")
    flash(_l("%(n)d holders were added and their orders filed.", n=report.imported), "success")
    return redirect(url_for("enrollment.list_holders"), 303)


@bp.route("/orders/import/<int:import_id>/discard", methods=["POST"])
@login_required
def discard_import(import_id):
    DecisionForm().validate_on_submit()
    batch = q.get_import(db.session, _user(), import_id)
    return _run(lambda: bulk_import.discard_batch(db.session, _user(), batch), _l("Nothing was imported."),
                url_for("enrollment.import_orders"), lambda exc: show_import(import_id, exc.status))


# --- counter appointments ---

def _day(value) -> date:
    try:
        return date.fromisoformat(value) if value else current_ports().clock.today()
    except ValueError:
        abort(400)


@bp.route("/appointments")
@login_required
def list_appointments():
    org = _own_org()
    rows = q.organisation_appointments(db.session, _user(), org, since=current_ports().clock.now())
    return render_template("enrollment/holders/appointments.html", org=org, rows=rows, form=BookingForm(),
                           counters=q.list_counters(db.session, active_only=True), LOCAL_TZ=LOCAL_TZ)


@bp.route("/appointments/book", methods=["GET", "POST"])
@login_required
def book_appointment():
    org = _own_org()
    counters = q.list_counters(db.session, active_only=True)
    form = BookingForm()
    if request.method == "POST":
        form.validate_on_submit()
        counter = q.get_counter(db.session, request.form.get("counter_id", ""))
        return _run(lambda: appts.book_appointments(
            db.session, _user(), q.orders_by_id(db.session, _user(), form.order_ids.data or []), counter,
            appts.parse_starts_at(form.starts_at.data), ports=current_ports()),
            _l("The appointment is booked. A confirmation with a calendar file was e-mailed."),
            url_for("enrollment.list_appointments"), lambda exc: redirect(request.full_path, 303))
    counter = (q.get_counter(db.session, request.args["counter"]) if request.args.get("counter")
               else (counters[0] if counters else None))
    day = _day(request.args.get("date"))
    slots = appts.available_slots(db.session, counter, day, now=current_ports().clock.now()) if counter else []
    return render_template("enrollment/holders/book.html", org=org, counters=counters, counter=counter, day=day,
                           slots=slots, orders=q.approved_orders(db.session, _user(), org), form=form,
                           LOCAL_TZ=LOCAL_TZ, reschedule=request.args.get("appointment"))


@bp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
@login_required
def cancel_appointment(appointment_id):
    form = BookingForm()
    form.validate_on_submit()
    appt = q.get_appointment(db.session, _user(), appointment_id)
    back = request.form.get("next") or url_for("enrollment.list_appointments")
    back = back if back.startswith("/") and not back.startswith("//") else url_for("enrollment.list_appointments")
    return _run(lambda: appts.cancel_appointment(db.session, _user(), appt, form.reason.data or "",
                                                 ports=current_ports()),
                _l("The appointment is cancelled."), back, lambda exc: redirect(back, 303))


@bp.route("/appointments/<int:appointment_id>/reschedule", methods=["POST"])
@login_required
def reschedule_appointment(appointment_id):
    form = BookingForm()
    form.validate_on_submit()
    appt = q.get_appointment(db.session, _user(), appointment_id)
    counter = q.get_counter(db.session, request.form.get("counter_id", ""))
    return _run(lambda: appts.reschedule_appointment(db.session, _user(), appt, counter,
                                                     appts.parse_starts_at(form.starts_at.data), ports=current_ports()),
                _l("The appointment was moved. A new calendar file was e-mailed."),
                url_for("enrollment.list_appointments"), lambda exc: redirect(url_for("enrollment.list_appointments"), 303))


@bp.route("/counter/queue")
@login_required
def counter_queue():
    policy.require(ep.can_see_counter_queue(_user()))
    day = _day(request.args.get("date"))
    counter_id = int_arg("counter")
    return render_template("enrollment/holders/queue.html", day=day, counter_id=counter_id,
                           rows=q.day_queue(db.session, _user(), day, counter_id=counter_id),
                           counters=q.list_counters(db.session), LOCAL_TZ=LOCAL_TZ)


@bp.route("/counters", methods=["GET", "POST"])
@login_required
def manage_counters():
    policy.require(ep.can_manage_counters(_user()))
    form = CounterForm()
    errors, status = {}, 200
    if request.method == "POST":
        form.validate_on_submit()
        counter = q.get_counter(db.session, request.form["counter_id"]) if request.form.get("counter_id") else None
        data = appts.CounterData(**{k: v for k, v in form.data.items() if k not in ("csrf_token", "weekdays")},
                                 weekdays="".join(form.weekdays.data or []))
        try:
            appts.save_counter(db.session, _user(), data, counter)
            commit()
        except ValidationFailed as exc:
            db.session.rollback()
            errors, status = exc.errors, 422
        else:
            flash(_l("Saved."), "success")
            return redirect(url_for("enrollment.manage_counters"), 303)
    return render_template("enrollment/holders/counters.html", form=form, errors=errors,
                           counters=q.list_counters(db.session)), status
