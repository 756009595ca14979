"""Append-only, hash-chained audit log (CA/B Forum BR §5.4.1 events)."""
from ra.audit.service import record, record_many  # noqa: F401
