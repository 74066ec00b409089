"""The authorship journal: an append-only, hash-chained, signed record of every human and
system decision, kept in the ledger database.

Each event's hash is SHA-256 over the canonical JSON of all its fields, its `seq` and the
previous event's hash (`prev_hash`), so altering, removing, inserting or reordering an event
breaks the chain at a point `verify()` can name. The head (last seq + hash) is signed with
the Tessera signing key (ECDSA P-256, SHA-256) on every append, so cutting events off the
end, or rewriting the whole chain, needs the private key too.

Concurrency: one append is one transaction that reads the current last event and writes the
next one. On SQLite the transaction starts with BEGIN IMMEDIATE (writers queue on the file
lock); elsewhere the head row is locked (SELECT ... FOR UPDATE) and a lost race on the `seq`
primary key (IntegrityError) is retried.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import (
    Column, DateTime, Integer, LargeBinary, MetaData, String, Table, Text, insert, select, update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from provenance.spec import Credentials
from foundation.primitives import canonical_json, sha256_text

__all__ = [
    "ACTIONS", "ACTOR_KINDS", "GENESIS_HASH", "Journal", "JournalEvent", "JournalHead", "RecordedEvent",
    "VerifyResult", "event_hash", "head_message",
]

ACTIONS: tuple[str, ...] = (
    "brief_written", "copy_written", "prompt_authored", "parameters_set", "generation_run",
    "candidate_picked", "candidate_rejected", "edit_applied", "approval", "publication",
    "input_recorded", "brand_kit_applied", "ledger_sealed", "withdrawal",
)
# "unknown": the record does not say whether a person or a system acted (copy whose author the catalog
# does not name). Journals written before it existed hold only "human" and "system" and verify unchanged.
ACTOR_KINDS: tuple[str, ...] = ("human", "system", "unknown")
# Detail keys an event must carry so that the authorship report can say what happened.
# Checked at write time: a journal is append-only, so an incomplete event could never be fixed.
REQUIRED_DETAIL: dict[str, tuple[str, ...]] = {
    "prompt_authored": ("prompt",),
    "parameters_set": ("parameters",),
    "generation_run": ("model", "model_version", "candidate", "parameters"),
    "candidate_picked": ("candidate",),
    "candidate_rejected": ("candidate",),
    "copy_written": ("segment", "text"),
    "edit_applied": ("segment",),
    "input_recorded": ("role", "file", "origin"),
    "ledger_sealed": ("rows",),
    "withdrawal": ("reasons", "disposition"),
}
GENESIS_HASH = "0" * 64
_APPEND_ATTEMPTS = 5
_PG_APPEND_LOCK = 0x7E55E4B          # PostgreSQL advisory lock key: one appending transaction at a time

metadata = MetaData()

journal_table = Table(
    "journal", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("variant_key", String(128), nullable=False, index=True),
    Column("asset_id", String(64), index=True),
    Column("actor", String(256), nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("inputs_json", Text, nullable=False),
    Column("outputs_json", Text, nullable=False),
    Column("detail_json", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

journal_head_table = Table(
    "journal_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),   # always 1
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),               # DER ECDSA signature
    Column("cert_chain_pem", Text, nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class JournalEvent:
    """One decision to record. `inputs`/`outputs` hold hashes (sha256 hex, or lists of them);
    `detail` holds what a reader needs (prompt text, parameters, reason, ...)."""
    variant_key: str
    actor: str                                   # a person's id, or the system component's name
    actor_kind: str                              # one of ACTOR_KINDS: "human", "system" or "unknown"
    action: str                                  # one of ACTIONS
    asset_id: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None                   # when the decision happened (timezone-aware); default: now
    event_id: str | None = None                  # default: a new uuid4


@dataclass(frozen=True)
class RecordedEvent:
    seq: int
    event_id: str
    variant_key: str
    asset_id: str | None
    actor: str
    actor_kind: str
    action: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    detail: Mapping[str, Any]
    at: datetime                                 # UTC
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class JournalHead:
    seq: int
    hash: str
    signature: bytes
    cert_chain_pem: bytes
    signed_at: datetime                          # UTC


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    first_bad_seq: int | None                    # the event named by `problem`; None when the head is at fault
    problem: str                                 # "" when ok


def event_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 hex over the canonical JSON of every stored field of an event except `hash`."""
    fields = {
        "seq": row["seq"], "event_id": row["event_id"], "variant_key": row["variant_key"],
        "asset_id": row["asset_id"], "actor": row["actor"], "actor_kind": row["actor_kind"],
        "action": row["action"], "inputs_json": row["inputs_json"], "outputs_json": row["outputs_json"],
        "detail_json": row["detail_json"], "at": _iso(row["at"]), "prev_hash": row["prev_hash"],
    }
    return sha256_text(canonical_json(fields))


def head_message(seq: int, head_hash: str, signed_at: datetime) -> bytes:
    """The bytes the head signature covers."""
    return canonical_json({"journal_head": {"hash": head_hash, "seq": seq, "signed_at": _iso(signed_at)}}).encode()


class Journal:
    """Append-only authorship journal in the ledger database; safe across threads and processes."""

    def __init__(self, engine: Engine, signer_key_pem: bytes | None, cert_chain_pem: bytes):
        """signer_key_pem None: a journal that reads and verifies but cannot append (an audit's)."""
        self.engine = engine
        self._key = _load_signing_key(signer_key_pem) if signer_key_pem is not None else None
        self._cert_chain_pem = cert_chain_pem
        self._cert = _leaf_certificate(cert_chain_pem)
        if self._key is not None and _public_der(self._cert.public_key()) != _public_der(self._key.public_key()):
            raise ValueError("signer_key_pem does not match the first certificate of cert_chain_pem")
        self._sqlite = engine.dialect.name == "sqlite"
        metadata.create_all(engine)

    @classmethod
    def from_credentials(cls, engine: Engine, creds: Credentials) -> Journal:
        return cls(engine, creds.private_key_pem, creds.cert_chain_pem)

    @classmethod
    def for_verifying(cls, engine: Engine, cert_chain_pem: bytes) -> Journal:
        """A journal checked against its signer's certificate alone (no private key needed)."""
        return cls(engine, None, cert_chain_pem)

    # writing ----------------------------------------------------------------
    def append(self, event: JournalEvent) -> RecordedEvent:
        """Validate, chain, store and re-sign the head, all in one transaction."""
        # 1. Refuse bad events before touching the database: nothing is recorded on refusal.
        if self._key is None:
            raise ValueError("this journal was opened for verifying only (no signing key): it cannot append")
        fields = _validated_fields(event)
        # 2. Chain and store; a lost race for the next seq (IntegrityError) is retried.
        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            try:
                return self._append_once(fields)
            except IntegrityError:
                if attempt == _APPEND_ATTEMPTS:
                    raise
                time.sleep(0.005 * attempt)
        raise AssertionError("unreachable")

    def _append_once(self, fields: dict[str, Any]) -> RecordedEvent:
        with self.engine.connect() as conn:
            # 1. Take the write lock before reading the last event, so no other writer can chain
            #    onto the same predecessor. On PostgreSQL a transaction advisory lock, not a row lock
            #    on the head: the head row does not exist before the first event, and a writer that
            #    locked nothing could chain on and then deadlock with one that locked the head.
            if self._sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_APPEND_LOCK})")
            # 2. The predecessor is the last stored event (not the head row, which only mirrors it).
            last = conn.execute(
                select(journal_table.c.seq, journal_table.c.hash).order_by(journal_table.c.seq.desc()).limit(1)
            ).first()
            row = dict(fields, seq=(last.seq + 1) if last else 1, prev_hash=last.hash if last else GENESIS_HASH)
            row["hash"] = event_hash(row)
            conn.execute(insert(journal_table).values(**row))
            # 3. Re-sign the head over the new last event.
            self._write_head(conn, row["seq"], row["hash"])
            conn.commit()
        return _recorded(row)

    def _write_head(self, conn: Connection, seq: int, head_hash: str) -> None:
        assert self._key is not None, "append() refuses a verify-only journal first"
        signed_at = _now()
        values = dict(seq=seq, hash=head_hash, signed_at=signed_at,
                      signature=self._key.sign(head_message(seq, head_hash, signed_at), ec.ECDSA(hashes.SHA256())),
                      cert_chain_pem=self._cert_chain_pem.decode("ascii"))
        done = conn.execute(update(journal_head_table).where(journal_head_table.c.id == 1).values(**values))
        if done.rowcount == 0:
            conn.execute(insert(journal_head_table).values(id=1, **values))

    # reading ----------------------------------------------------------------
    def events(self, variant_key: str | None = None, asset_id: str | None = None) -> list[RecordedEvent]:
        """Events in seq order, optionally only those of one variant key and/or asset id."""
        query = select(journal_table).order_by(journal_table.c.seq)
        if variant_key is not None:
            query = query.where(journal_table.c.variant_key == variant_key)
        if asset_id is not None:
            query = query.where(journal_table.c.asset_id == asset_id)
        with self.engine.connect() as conn:
            return [_recorded(dict(r)) for r in conn.execute(query).mappings()]

    def events_at(self, seqs: Sequence[int]) -> list[RecordedEvent]:
        """The events with these seq numbers, in seq order (those that do not exist are left out)."""
        if not seqs:
            return []
        query = select(journal_table).where(journal_table.c.seq.in_(sorted(set(seqs)))).order_by(journal_table.c.seq)
        with self.engine.connect() as conn:
            return [_recorded(dict(r)) for r in conn.execute(query).mappings()]

    def head(self) -> JournalHead | None:
        with self.engine.connect() as conn:
            return _read_head(conn)

    # checking ---------------------------------------------------------------
    def verify(self) -> VerifyResult:
        """Recompute the chain from seq 1, then check the signed head against the last event."""
        # 1. Read events and head from one snapshot: a concurrent append must not look like tampering.
        with self.engine.connect() as conn:
            if self._sqlite:
                conn.exec_driver_sql("BEGIN")     # pysqlite would otherwise read each SELECT on its own
            else:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            rows = [dict(r) for r in conn.execute(select(journal_table).order_by(journal_table.c.seq)).mappings()]
            head = _read_head(conn)
        # 2. Walk the chain; the first broken link names the event.
        problem = _first_chain_problem(rows)
        if problem is not None:
            return problem
        # 3. The head must exist once there are events, carry our certificate and verify.
        if head is None:
            return VerifyResult(not rows, None, "" if not rows else "head: missing (journal head row deleted)")
        try:
            stored_cert = _leaf_certificate(head.cert_chain_pem)
            stored_key = stored_cert.public_key()
            if not isinstance(stored_key, ec.EllipticCurvePublicKey):
                raise TypeError(f"certificate key is {type(stored_key).__name__}, not EC")
            stored_key.verify(head.signature, head_message(head.seq, head.hash, head.signed_at),
                              ec.ECDSA(hashes.SHA256()))
        except (ValueError, TypeError, InvalidSignature):
            return VerifyResult(False, None, "head: signature does not verify with the stored certificate")
        if _public_der(stored_cert.public_key()) != _public_der(self._cert.public_key()):
            return VerifyResult(False, None, "head: signed by a certificate other than this journal's signer")
        # 4. The signed head must name the last event: events after it were added, events before it cut.
        last_seq, last_hash = (rows[-1]["seq"], rows[-1]["hash"]) if rows else (0, GENESIS_HASH)
        if head.seq < last_seq:
            return VerifyResult(False, head.seq + 1, f"seq {head.seq + 1}: inserted after the signed head "
                                                      f"(head is seq {head.seq})")
        if head.seq > last_seq:
            return VerifyResult(False, last_seq + 1, f"seq {last_seq + 1}: removed (the signed head is seq "
                                                      f"{head.seq}, the journal ends at seq {last_seq})")
        if head.hash != last_hash:
            return VerifyResult(False, last_seq, f"seq {last_seq}: does not match the signed head hash")
        return VerifyResult(True, None, "")


def _first_chain_problem(rows: Sequence[Mapping[str, Any]]) -> VerifyResult | None:
    """The first altered, removed, inserted or reordered event, or None when the chain is intact."""
    prev_hash, before_prev_hash = GENESIS_HASH, None
    for expected_seq, row in enumerate(rows, start=1):
        seq = row["seq"]
        # 1. seq must count up from 1 without gaps (the primary key rules out duplicates).
        if seq != expected_seq:
            return VerifyResult(False, expected_seq, f"seq {expected_seq}: removed (seq jumps from "
                                                      f"{expected_seq - 1} to {seq})")
        recomputed = event_hash(row)
        if row["prev_hash"] != prev_hash:
            # 2a. It links to the event before its predecessor: its predecessor was slipped in.
            if before_prev_hash is not None and row["prev_hash"] == before_prev_hash:
                return VerifyResult(False, seq - 1, f"seq {seq - 1}: inserted (seq {seq} was chained to "
                                                    f"seq {seq - 2})")
            # 2b. Its own content is also off: it was moved here, or changed.
            if recomputed != row["hash"]:
                return _moved_or_altered(row, rows)
            # 2c. It is intact but its predecessor's hash changed: the predecessor was rewritten.
            return VerifyResult(False, seq - 1, f"seq {seq - 1}: altered (its hash was recomputed; seq {seq} "
                                                f"no longer links to it)")
        # 3. Content must match the stored hash.
        if recomputed != row["hash"]:
            return _moved_or_altered(row, rows)
        before_prev_hash, prev_hash = prev_hash, row["hash"]
    return None


def _moved_or_altered(row: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> VerifyResult:
    seq = row["seq"]
    # Only on failure: find whether the event hashes right under another seq (it was moved).
    for other in range(1, len(rows) + 2):
        if other != seq and event_hash(dict(row, seq=other)) == row["hash"]:
            return VerifyResult(False, seq, f"seq {seq}: reordered (holds the event recorded as seq {other})")
    return VerifyResult(False, seq, f"seq {seq}: altered (its contents do not match its hash)")


def _validated_fields(event: JournalEvent) -> dict[str, Any]:
    if not isinstance(event.variant_key, str) or not event.variant_key.strip():
        raise ValueError(f"variant_key must be a non-empty string, got {event.variant_key!r}")
    if not isinstance(event.actor, str) or not event.actor.strip():
        raise ValueError(f"actor must be a non-empty name, got {event.actor!r}")
    if event.actor_kind not in ACTOR_KINDS:
        raise ValueError(f"actor_kind must be one of {ACTOR_KINDS}, got {event.actor_kind!r}")
    if event.action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, got {event.action!r}")
    if event.asset_id is not None and (not isinstance(event.asset_id, str) or not event.asset_id.strip()):
        raise ValueError(f"asset_id must be None or a non-empty string, got {event.asset_id!r}")
    if event.at is not None and event.at.utcoffset() is None:
        raise ValueError(f"at must be timezone-aware, got {event.at!r}")
    inputs_json, outputs_json = _json_field("inputs", event.inputs), _json_field("outputs", event.outputs)
    detail_json = _json_field("detail", event.detail)
    missing = [k for k in REQUIRED_DETAIL.get(event.action, ()) if k not in event.detail]
    if missing:
        raise ValueError(f"{event.action} detail lacks {', '.join(missing)}")
    if "parameters" in REQUIRED_DETAIL.get(event.action, ()) and not isinstance(event.detail["parameters"], Mapping):
        raise ValueError(f"{event.action} detail parameters must be a mapping, got {event.detail['parameters']!r}")
    return dict(
        event_id=event.event_id or uuid.uuid4().hex, variant_key=event.variant_key, asset_id=event.asset_id,
        actor=event.actor.strip(), actor_kind=event.actor_kind, action=event.action,
        inputs_json=inputs_json, outputs_json=outputs_json, detail_json=detail_json,
        # Microseconds are the precision every backend keeps, so the hash survives a round trip.
        at=_utc(event.at) if event.at is not None else _now(),
    )


def _json_field(name: str, value: Mapping[str, Any]) -> str:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{name} must be a mapping with string keys, got {type(value).__name__}")
    try:
        return canonical_json(dict(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not JSON-serialisable: {exc}") from None


def _read_head(conn: Connection) -> JournalHead | None:
    r = conn.execute(select(journal_head_table).where(journal_head_table.c.id == 1)).mappings().first()
    if r is None:
        return None
    return JournalHead(seq=r["seq"], hash=r["hash"], signature=bytes(r["signature"]),
                       cert_chain_pem=r["cert_chain_pem"].encode("ascii"), signed_at=_utc(r["signed_at"]))


def _recorded(row: Mapping[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        seq=row["seq"], event_id=row["event_id"], variant_key=row["variant_key"], asset_id=row["asset_id"],
        actor=row["actor"], actor_kind=row["actor_kind"], action=row["action"],
        inputs=json.loads(row["inputs_json"]), outputs=json.loads(row["outputs_json"]),
        detail=json.loads(row["detail_json"]), at=_utc(row["at"]), prev_hash=row["prev_hash"], hash=row["hash"],
    )


def _load_signing_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"signer_key_pem is not a readable unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"signer_key_pem must be an EC P-256 key, got {type(key).__name__}")
    return key


def _leaf_certificate(chain_pem: bytes) -> x509.Certificate:
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise ValueError(f"cert_chain_pem is not a readable PEM certificate chain: {exc}") from None
    return certs[0]


def _public_der(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat(timespec="microseconds")
