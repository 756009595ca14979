"""States of holders, certificate orders and counter appointments (DESIGN §3.2),
each an Enum with its transition table; ``StateMachine.transition`` is the only
way any of them changes, and it writes the audit record."""
from __future__ import annotations

import enum

from ra.i18n import _l
from ra.states import StateMachine


class HolderStatus(str, enum.Enum):
    ACTIVE = "active"
    DEPARTED = "departed"  # left the organisation; a new holder record may use the register number

    @property
    def label(self):
        return {HolderStatus.ACTIVE: _l("Active"), HolderStatus.DEPARTED: _l("Left the organisation")}[self]


class OrderStatus(str, enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    SCHEDULED = "scheduled"  # a counter appointment is booked
    ISSUED = "issued"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def label(self):
        return ORDER_LABELS[self]


ORDER_LABELS = {
    OrderStatus.DRAFT: _l("Draft"),
    OrderStatus.SUBMITTED: _l("Submitted"),
    OrderStatus.APPROVED: _l("Approved"),
    OrderStatus.SCHEDULED: _l("Appointment booked"),
    OrderStatus.ISSUED: _l("Issued"),
    OrderStatus.REJECTED: _l("Rejected"),
    OrderStatus.CANCELLED: _l("Cancelled"),
}

# An order still on its way; the database allows one per holder and profile.
OPEN_ORDER = (OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.APPROVED, OrderStatus.SCHEDULED)
# The state an order may be born in: a draft, or filed (submitted) at once.
INITIAL_ORDER = (OrderStatus.DRAFT, OrderStatus.SUBMITTED)


class AppointmentStatus(str, enum.Enum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"  # replaced by another appointment for the same order
    ATTENDED = "attended"

    @property
    def label(self):
        return {AppointmentStatus.BOOKED: _l("Booked"), AppointmentStatus.CANCELLED: _l("Cancelled"),
                AppointmentStatus.RESCHEDULED: _l("Rescheduled"),
                AppointmentStatus.ATTENDED: _l("Attended")}[self]


O = OrderStatus
order_states = StateMachine(
    "order",
    {
        O.DRAFT: {O.SUBMITTED, O.CANCELLED},
        O.SUBMITTED: {O.APPROVED, O.REJECTED, O.CANCELLED},
        O.APPROVED: {O.SCHEDULED, O.CANCELLED, O.REJECTED},
        O.SCHEDULED: {O.APPROVED, O.ISSUED, O.CANCELLED},  # → approved: the appointment was cancelled
        O.ISSUED: set(),
        O.REJECTED: set(),
        O.CANCELLED: set(),
    },
)

holder_states = StateMachine("holder", {HolderStatus.ACTIVE: {HolderStatus.DEPARTED}, HolderStatus.DEPARTED: set()})

A = AppointmentStatus
appointment_states = StateMachine(
    "appointment",
    {A.BOOKED: {A.CANCELLED, A.RESCHEDULED, A.ATTENDED}, A.CANCELLED: set(), A.RESCHEDULED: set(),
     A.ATTENDED: set()},
)
