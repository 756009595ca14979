"""Holders, their documents, certificate orders, position changes, counters and
appointments (DESIGN §3.2)."""
from __future__ import annotations

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ra.db import UTCDateTime, enum_column, utcnow
from ra.enrollment.order_states import OPEN_ORDER, AppointmentStatus, HolderStatus, OrderStatus
from ra.extensions import db
from ra.uploads import StoredFileColumns
from ra.i18n import _l


def _in(column: str, values) -> sa.TextClause:
    return sa.text(f"{column} IN ({', '.join(repr(v.value) for v in values)})")


class Holder(db.Model):
    """A certificate holder of an organisation. Names are kept as the civil register
    writes them; the Latin spelling (MNS 5217:2012, editable) goes into the CN."""
    __tablename__ = "holder"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    surname: Mapped[str] = mapped_column(sa.String(100))           # овог (patronymic)
    given_name: Mapped[str] = mapped_column(sa.String(100))        # нэр
    clan_name: Mapped[str] = mapped_column(sa.String(100), default="")  # ургийн овог
    latin_surname: Mapped[str] = mapped_column(sa.String(100))
    latin_given_name: Mapped[str] = mapped_column(sa.String(100))
    register_number: Mapped[str] = mapped_column(sa.String(10), index=True)
    birth_date: Mapped[date] = mapped_column(sa.Date)
    position: Mapped[str] = mapped_column(sa.String(200))
    department: Mapped[str] = mapped_column(sa.String(200), default="")
    email: Mapped[str] = mapped_column(sa.String(254))
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    locale: Mapped[str] = mapped_column(sa.String(5), default="mn")
    status: Mapped[HolderStatus] = mapped_column(enum_column(HolderStatus), default=HolderStatus.ACTIVE)
    # The contract or annex number that lists this holder; NULL = not yet listed
    # (the pending work of ``holders_service.generate_pending_annexes``).
    listed_in: Mapped[str | None] = mapped_column(sa.String(40))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation = relationship("Organisation")
    documents = relationship("HolderDocument", back_populates="holder", order_by="HolderDocument.id")

    __table_args__ = (
        # One active holder per register number per organisation, enforced by the database.
        sa.Index("uq_holder_active_register_number", "organisation_id", "register_number", unique=True,
                 sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'")),
    )

    @property
    def full_name(self) -> str:
        return f"{self.surname} {self.given_name}"

    @property
    def latin_name(self) -> str:
        return f"{self.latin_given_name} {self.latin_surname}"

    def latest_document(self, kind: "HolderDocumentKind"):
        docs = [d for d in self.documents if d.kind == kind]
        return docs[-1] if docs else None


class HolderDocumentKind(str, enum.Enum):
    APPLICATION_FORM = "application_form"          # өргөдөл
    ID_CARD = "id_card"                            # иргэний үнэмлэхний хуулбар
    APPOINTMENT_ORDER = "appointment_order"        # томилсон тушаалын хуулбар
    SUBSCRIBER_AGREEMENT = "subscriber_agreement"  # тоон гарын үсэг эзэмших гэрээ

    @property
    def label(self):
        return {HolderDocumentKind.APPLICATION_FORM: _l("Application form"),
                HolderDocumentKind.ID_CARD: _l("ID card copy"),
                HolderDocumentKind.APPOINTMENT_ORDER: _l("Appointment order copy"),
                HolderDocumentKind.SUBSCRIBER_AGREEMENT: _l("Signed subscriber agreement")}[self]


class HolderDocument(StoredFileColumns, db.Model):
    __tablename__ = "holder_document"
    __audit_type__ = "holder_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    holder_id: Mapped[int] = mapped_column(sa.ForeignKey("holder.id"), index=True)
    kind: Mapped[HolderDocumentKind] = mapped_column(enum_column(HolderDocumentKind))

    holder = relationship(Holder, back_populates="documents")


class OrderKind(str, enum.Enum):
    NEW = "new"
    RENEWAL = "renewal"
    POSITION_CHANGE = "position_change"

    @property
    def label(self):
        return {OrderKind.NEW: _l("New certificate"), OrderKind.RENEWAL: _l("Renewal"),
                OrderKind.POSITION_CHANGE: _l("Position change")}[self]


class CertificateOrder(db.Model):
    __tablename__ = "certificate_order"
    __audit_type__ = "order"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    holder_id: Mapped[int] = mapped_column(sa.ForeignKey("holder.id"), index=True)
    profile: Mapped[str] = mapped_column(sa.String(40))
    key_type: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[OrderKind] = mapped_column(enum_column(OrderKind), default=OrderKind.NEW)
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.Text)  # why it was rejected or cancelled
    # The subject the CA will be asked for, fixed at approval (RFC 4514 string).
    subject: Mapped[str | None] = mapped_column(sa.String(1000))
    replaces_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificate_order.id"))
    import_id: Mapped[int | None] = mapped_column(sa.ForeignKey("order_import.id"), index=True)
    # Filled by the handover when the CA returns the certificate.
    certificate_serial: Mapped[str | None] = mapped_column(sa.String(64))
    certificate_not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issuer: Mapped[str | None] = mapped_column(sa.String(300))
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    holder = relationship(Holder)
    organisation = relationship("Organisation")
    appointments = relationship("Appointment", back_populates="order", order_by="Appointment.id")

    __table_args__ = (
        sa.Index("uq_certificate_order_open", "holder_id", "profile", unique=True,
                 sqlite_where=_in("status", OPEN_ORDER), postgresql_where=_in("status", OPEN_ORDER)),
    )

    @property
    def appointment(self):
        booked = [a for a in self.appointments if a.status == AppointmentStatus.BOOKED]
        return booked[-1] if booked else None


class RevocationState(str, enum.Enum):
    AWAITING_REVOCATION = "awaiting_revocation"    # no revocation module yet: waits for it
    REVOCATION_REQUESTED = "revocation_requested"  # handed to the revocation module
    NOTHING_TO_REVOKE = "nothing_to_revoke"        # the holder had no issued certificate

    @property
    def label(self):
        return {RevocationState.AWAITING_REVOCATION: _l("Revocation of the old certificate is waiting"),
                RevocationState.REVOCATION_REQUESTED: _l("Revocation of the old certificate requested"),
                RevocationState.NOTHING_TO_REVOKE: _l("No certificate to revoke")}[self]


class PositionChange(db.Model):
    """A holder's new position: the old certificate is revoked with reason
    affiliationChanged (RFC 5280 §5.3.1) and a new order carries the new title."""
    __tablename__ = "position_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    holder_id: Mapped[int] = mapped_column(sa.ForeignKey("holder.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("certificate_order.id"), unique=True)
    old_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificate_order.id"))
    old_certificate_serial: Mapped[str | None] = mapped_column(sa.String(64))
    old_position: Mapped[str] = mapped_column(sa.String(200))
    new_position: Mapped[str] = mapped_column(sa.String(200))
    old_department: Mapped[str] = mapped_column(sa.String(200), default="")
    new_department: Mapped[str] = mapped_column(sa.String(200), default="")
    revocation: Mapped[RevocationState] = mapped_column(enum_column(RevocationState), index=True)
    revocation_reference: Mapped[str | None] = mapped_column(sa.String(100))
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    holder = relationship(Holder)
    order = relationship(CertificateOrder, foreign_keys=[order_id])


class Counter(db.Model):
    """A service counter of the RU. Hours are local (Asia/Ulaanbaatar) wall-clock
    times; ``weekdays`` holds ISO weekday digits, '12345' = Monday to Friday."""
    __tablename__ = "counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    location: Mapped[str] = mapped_column(sa.String(300), default="")
    opens_at: Mapped[time] = mapped_column(sa.Time)
    closes_at: Mapped[time] = mapped_column(sa.Time)
    break_starts: Mapped[time | None] = mapped_column(sa.Time)
    break_ends: Mapped[time | None] = mapped_column(sa.Time)
    slot_minutes: Mapped[int]
    capacity: Mapped[int]
    weekdays: Mapped[str] = mapped_column(sa.String(7), default="12345")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("slot_minutes >= 5 AND slot_minutes <= 240", name="slot_minutes"),
        sa.CheckConstraint("capacity >= 1", name="capacity"),
    )


class AppointmentSlot(db.Model):
    """One bookable time at a counter, created when first booked. The CHECK makes
    overbooking impossible even for a writer that bypasses the service."""
    __tablename__ = "appointment_slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    counter_id: Mapped[int] = mapped_column(sa.ForeignKey("counter.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)

    counter = relationship(Counter)

    __table_args__ = (
        sa.UniqueConstraint("counter_id", "starts_at", name="uq_appointment_slot_counter_id"),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="seats"),
    )


class Appointment(db.Model):
    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("certificate_order.id"), index=True)
    slot_id: Mapped[int] = mapped_column(sa.ForeignKey("appointment_slot.id"), index=True)
    status: Mapped[AppointmentStatus] = mapped_column(enum_column(AppointmentStatus), default=AppointmentStatus.BOOKED)
    sequence: Mapped[int] = mapped_column(default=0)  # iCalendar SEQUENCE (RFC 5545 §3.8.7.4)
    booked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.Text)

    order = relationship(CertificateOrder, back_populates="appointments")
    slot = relationship(AppointmentSlot)

    __table_args__ = (
        sa.Index("uq_appointment_booked_order", "order_id", unique=True,
                 sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'")),
    )


class ImportStatus(str, enum.Enum):
    CHECKED = "checked"      # report shown, nothing imported yet
    IMPORTED = "imported"
    DISCARDED = "discarded"


class OrderImport(db.Model):
    """An uploaded CSV/XLSX kept between the report and the user's decision."""
    __tablename__ = "order_import"
    __audit_type__ = "order_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    original_name: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[ImportStatus] = mapped_column(enum_column(ImportStatus), default=ImportStatus.CHECKED)
    total_rows: Mapped[int] = mapped_column(default=0)
    valid_rows: Mapped[int] = mapped_column(default=0)
    report: Mapped[str] = mapped_column(sa.Text, default="{}")  # JSON, see bulk_import.Report
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
