"""Compliance: audit of any media files."""
from compliance.audit import AuditRecord, audit_paths, exit_code

__all__ = [
    "AuditRecord",
    "audit_paths",
    "exit_code",
]
