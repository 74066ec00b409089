"""Alembic migrations of the ledger schema; `provenance.ledger.Ledger` upgrades to head on open."""
