from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ra.db import UTCDateTime, enum_column, utcnow
from ra.enrollment.reference import District, OrganisationKind
from ra.enrollment.states import OrganisationStatus
from ra.extensions import db
from ra.uploads import StoredFileColumns


class Organisation(db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    registry_number: Mapped[str] = mapped_column(sa.String(7), unique=True)
    kind: Mapped[OrganisationKind] = mapped_column(enum_column(OrganisationKind), index=True)
    district: Mapped[District] = mapped_column(enum_column(District), index=True)
    address: Mapped[str] = mapped_column(sa.String(500))
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    # Allowed e-mail domains, lower case, space separated (e.g. "gov.mn ub.gov.mn").
    email_domains: Mapped[str] = mapped_column(sa.String(1000))
    status: Mapped[OrganisationStatus] = mapped_column(enum_column(OrganisationStatus), index=True,
                                                       default=OrganisationStatus.PENDING)
    # The registration officer's details as the contract names them.
    registrar_name: Mapped[str] = mapped_column(sa.String(200))
    registrar_position: Mapped[str] = mapped_column(sa.String(200))
    registrar_email: Mapped[str] = mapped_column(sa.String(254))
    registrar_phone: Mapped[str] = mapped_column(sa.String(40))
    contract_number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    contract_date: Mapped[date | None] = mapped_column(sa.Date)
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    temp_access_from: Mapped[date | None] = mapped_column(sa.Date)
    temp_access_to: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    documents = relationship("OrganisationDocument", back_populates="organisation",
                             order_by="OrganisationDocument.uploaded_at")
    generated = relationship("GeneratedDocument", back_populates="organisation",
                             order_by="GeneratedDocument.created_at")

    @property
    def domains(self) -> list[str]:
        return self.email_domains.split()

    def has_temporary_access(self, today: date) -> bool:
        return bool(self.temp_access_from and self.temp_access_to
                    and self.temp_access_from <= today <= self.temp_access_to)

    def latest_document(self, kind: "DocumentKind"):
        docs = [d for d in self.documents if d.kind == kind]
        return docs[-1] if docs else None

    @property
    def contract(self):
        docs = [d for d in self.generated if d.kind == GeneratedKind.CONTRACT]
        return docs[-1] if docs else None


class DocumentKind(str, enum.Enum):
    REQUEST_LETTER = "request_letter"    # албан хүсэлт
    SIGNED_CONTRACT = "signed_contract"  # the cooperation contract, signed and stamped

    @property
    def label(self):
        return {DocumentKind.REQUEST_LETTER: _l("Official request letter"),
                DocumentKind.SIGNED_CONTRACT: _l("Signed and stamped contract")}[self]


class OrganisationDocument(StoredFileColumns, db.Model):
    """An uploaded file. It lives outside the web root under a server-generated name;
    the user's file name is kept (sanitised) only to show it back."""
    __tablename__ = "organisation_document"
    __audit_type__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind))

    organisation = relationship(Organisation, back_populates="documents")


class GeneratedKind(str, enum.Enum):
    CONTRACT = "contract"
    ANNEX = "annex"


class GeneratedDocument(db.Model):
    """A PDF the RU produced (contract, annex), kept exactly as it was sent."""
    __tablename__ = "generated_document"
    __audit_type__ = "generated_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    kind: Mapped[GeneratedKind] = mapped_column(enum_column(GeneratedKind))
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    stored_name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation = relationship(Organisation, back_populates="generated")


class DocumentCounter(db.Model):
    """Gap-free numbering per series and year: the counter moves in the same
    transaction as the document it numbers, so a rollback returns the number."""
    __tablename__ = "document_counter"

    series: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)
