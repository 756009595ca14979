"""Holders: validation with translated messages, the database's own guard against
duplicates, documents, and the contract annex that lists them."""
import pytest
import sqlalchemy as sa

from ra.auth.roles import Role
from ra.enrollment import holders_service as hs
from ra.enrollment.holder_models import Holder, HolderDocumentKind
from ra.enrollment.order_states import HolderStatus
from ra.errors import PermissionDenied, UserError, ValidationFailed
from ra.extensions import db
from tests.enrollment.helpers import active_org, holder_data, make_holder, pdf_text, upload_documents
from tests.factories import make_org, make_staff


def test_holder_is_created_with_a_generated_latin_name(rctx, ports):
    org, registrar, _ = active_org(db.session, ports)
    h = make_holder(db.session, ports, org, registrar, surname="Цэрэндорж", given_name="Бат-Эрдэнэ",
                    register_number="УБ85010112")
    assert (h.latin_surname, h.latin_given_name) == ("Tserendorj", "Bat-Erdene")
    assert h.birth_date.isoformat() == "1985-01-01" and h.status == HolderStatus.ACTIVE


def test_the_latin_spelling_can_be_corrected(rctx, ports):
    org, registrar, _ = active_org(db.session, ports)
    h = make_holder(db.session, ports, org, registrar, latin_surname="Batbayar")
    data = holder_data(org, **{k: getattr(h, k) for k in ("surname", "given_name", "register_number", "email",
                                                        "position", "department")})
    data.latin_given_name = "Bolormaa-Eng"
    changed = hs.update_holder(db.session, registrar, h, data, ports=ports)
    assert h.latin_given_name == "Bolormaa-Eng" and "latin_given_name" in changed


@pytest.mark.parametrize("field, value, words", [
    ("register_number", "UB85010112", "Latin"),
    ("register_number", "УБ85130112", "birth date"),
    ("register_number", "УБ05330112", "birth date"),
    ("email", "bolormaa@gmail.com", "gmail.com"),
    ("surname", "Batbayar", "Cyrillic"),
    ("phone", "12", "8 digits"),
])
def test_bad_input_gets_a_clear_message_and_saves_nothing(rctx, ports, field, value, words):
    org, registrar, _ = active_org(db.session, ports)
    before = db.session.execute(sa.select(sa.func.count()).select_from(Holder)).scalar()
    with pytest.raises(ValidationFailed) as e:
        make_holder(db.session, ports, org, registrar, **{field: value})
    assert words in str(e.value.errors[field])
    assert db.session.execute(sa.select(sa.func.count()).select_from(Holder)).scalar() == before


def test_gmail_message_names_the_allowed_domains_in_mongolian(app, ports):
    from flask_babel import force_locale
    with app.test_request_context():
        org, registrar, _ = active_org(db.session, ports)
        with pytest.raises(ValidationFailed) as e:
            make_holder(db.session, ports, org, registrar, email="bolormaa@gmail.com")
        with force_locale("mn"):
            text = str(e.value.errors["email"])
        assert org.domains[0] in text and "gmail.com" in text and "домэйн" in text


def test_a_duplicate_holder_is_refused_by_the_service_and_by_the_database(rctx, ports):
    org, registrar, _ = active_org(db.session, ports)
    make_holder(db.session, ports, org, registrar, register_number="УБ85010112")
    with pytest.raises(ValidationFailed) as e:
        make_holder(db.session, ports, org, registrar, register_number="уб85010112")
    assert "already an active holder" in str(e.value.errors["register_number"])
    # Two writers past the check would still meet the partial unique index.
    first = db.session.execute(sa.select(Holder).where(Holder.register_number == "УБ85010112")).scalar_one()
    clone = Holder(**{c.key: getattr(first, c.key) for c in Holder.__table__.columns if c.key != "id"})
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.add(clone)
            db.session.flush()


def test_a_departed_holder_frees_the_register_number(rctx, ports):
    org, registrar, _ = active_org(db.session, ports)
    h = make_holder(db.session, ports, org, registrar, register_number="УБ85010112")
    hs.remove_holder(db.session, registrar, h)
    again = make_holder(db.session, ports, org, registrar, register_number="УБ85010112")
    assert again.id != h.id and h.status == HolderStatus.DEPARTED


def test_the_same_person_may_hold_in_two_organisations(rctx, ports):
    org1, reg1, _ = active_org(db.session, ports)
    org2, reg2, _ = active_org(db.session, ports)
    make_holder(db.session, ports, org1, reg1, register_number="УБ85010112")
    make_holder(db.session, ports, org2, reg2, register_number="УБ85010112")


def test_only_the_organisations_registrar_adds_holders(rctx, ports):
    org, _, officer = active_org(db.session, ports)
    _, other_registrar, _ = active_org(db.session, ports)
    with pytest.raises(PermissionDenied):
        make_holder(db.session, ports, org, officer)
    from ra.errors import NotFound
    with pytest.raises(NotFound):
        make_holder(db.session, ports, org, other_registrar)


def test_documents_follow_the_upload_rules_and_are_ticked_by_an_officer(rctx, ports):
    org, registrar, officer = active_org(db.session, ports)
    h = make_holder(db.session, ports, org, registrar)
    with pytest.raises(UserError):
        hs.upload_holder_document(db.session, registrar, h, HolderDocumentKind.ID_CARD, "id.exe", b"MZ\x90",
                                  ports=ports)
    docs = upload_documents(db.session, ports, h, registrar)
    assert hs.missing_documents(h) == ([], list(HolderDocumentKind))
    with pytest.raises(PermissionDenied):
        hs.check_holder_document(db.session, registrar, docs[0], ports=ports)
    for d in docs:
        hs.check_holder_document(db.session, officer, d, ports=ports)
    assert hs.missing_documents(h) == ([], [])
    assert ports.files.read(docs[0].stored_name).startswith(b"%PDF")


def test_holders_added_before_the_contract_are_listed_in_its_annex(rctx, ports):
    from ra.enrollment import service as enrollment
    from ra.enrollment.models import DocumentKind
    from tests.factories import tiny_pdf

    org, registrar = make_org(db.session, ports, status="pending")
    h = make_holder(db.session, ports, org, registrar, surname="Дамдинсүрэн", given_name="Оюун")
    enrollment.upload_document(db.session, registrar, org, DocumentKind.REQUEST_LETTER, "l.pdf", tiny_pdf("l"),
                               ports=ports)
    officer = make_staff(db.session, ports, Role.RA_OFFICER)
    contract = enrollment.approve_organisation(db.session, officer, org, ports=ports)
    assert h.listed_in == contract.number
    text = pdf_text(ports.files.path(contract.stored_name))
    assert "Дамдинсүрэн Оюун" in text and h.register_number in text


def test_holders_added_to_an_active_organisation_get_a_new_numbered_annex(rctx, ports, mail):
    from ra.db import commit
    org, registrar, _ = active_org(db.session, ports)
    first = make_holder(db.session, ports, org, registrar, surname="Нямдорж", given_name="Ганбаатар")
    second = make_holder(db.session, ports, org, registrar, surname="Пүрэвсүрэн", given_name="Сарнай")
    assert hs.pending_annex_count(db.session, org) == 2
    annex = hs.generate_pending_annex(db.session, registrar, org, ports=ports)
    commit()
    assert annex.number == f"{org.contract_number}-Х2" and first.listed_in == second.listed_in == annex.number
    text = pdf_text(ports.files.path(annex.stored_name))
    assert "Нямдорж Ганбаатар" in text and "Пүрэвсүрэн Сарнай" in text and org.contract_number in text
    third = make_holder(db.session, ports, org, registrar)
    annex3 = hs.generate_pending_annex(db.session, registrar, org, ports=ports)
    commit()
    assert annex3.number.endswith("-Х3") and third.listed_in == annex3.number
    assert hs.generate_pending_annex(db.session, registrar, org, ports=ports) is None
    sent = mail.to(org.registrar_email)
    assert any(annex.number in m["Subject"] for m in sent)
    assert any(p.get_filename() == f"annex-2-{org.registry_number}.pdf" for m in sent for p in m.iter_attachments())
