"""Likeness registries in the ledger database: a watch-list and consent records.

Only face embeddings (dlib ResNet, float32[128]) and metadata are stored, never photos.
Tables live on their own MetaData (`registry_metadata`) so the ledger can create them next
to its own; the registry creates them if missing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterable, Literal

import numpy as np
from sqlalchemy import Column, Date, DateTime, Integer, LargeBinary, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.engine import Engine

EMBEDDING_DIM = 128
EMBEDDING_BYTES = EMBEDDING_DIM * 4  # float32

registry_metadata = MetaData()

watchlist_table = Table(
    "watchlist",
    registry_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("embedding", LargeBinary(EMBEDDING_BYTES), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("added_by", String(200), nullable=False),
)

consent_table = Table(
    "consent",
    registry_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("embedding", LargeBinary(EMBEDDING_BYTES), nullable=False),
    Column("regions", Text, nullable=False),  # comma list of region codes, e.g. "EU,US-CA"
    Column("products", Text, nullable=False),  # comma list of SKUs, or "*" for every product
    Column("expires_on", Date, nullable=False),  # last day the consent covers
    Column("record_ref", String(500), nullable=False),  # where the signed release lives
    Column("added_at", DateTime(timezone=True), nullable=False),
)

RegistryKind = Literal["watch", "consent"]


@dataclass(frozen=True)
class WatchEntry:
    id: int
    name: str
    reason: str
    embedding: bytes  # float32[128]; see .vector
    added_at: datetime
    added_by: str

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(self.embedding, dtype=np.float32)


@dataclass(frozen=True)
class ConsentEntry:
    id: int
    name: str
    embedding: bytes
    regions: tuple[str, ...]
    products: tuple[str, ...]  # ("*",) = every product
    expires_on: date
    record_ref: str
    added_at: datetime

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(self.embedding, dtype=np.float32)

    def scope_problems(self, *, region: str, sku: str, as_of: date) -> tuple[str, ...]:
        """Why this consent does not cover (region, sku) on as_of; empty when it does."""
        problems = []
        if as_of > self.expires_on:
            problems.append(f"consent expired on {self.expires_on.isoformat()}")
        if region not in self.regions:
            problems.append(f"region {region} not in consent regions {','.join(self.regions)}")
        if self.products != ("*",) and sku not in self.products:
            problems.append(f"product {sku} not in consent products {','.join(self.products)}")
        return tuple(problems)


class LikenessRegistry:
    """Watch-list and consent records, kept in the database behind `engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        registry_metadata.create_all(engine)  # checkfirst: existing tables are left alone

    def add_watch(self, name: str, embedding: np.ndarray, *, reason: str, added_by: str) -> int:
        row = dict(
            name=_text("name", name),
            reason=_text("reason", reason),
            embedding=_embedding_bytes(embedding),
            added_at=datetime.now(timezone.utc),
            added_by=_text("added_by", added_by),
        )
        with self.engine.begin() as conn:
            return int(conn.execute(insert(watchlist_table).values(**row)).inserted_primary_key[0])

    def add_consent(
        self,
        name: str,
        embedding: np.ndarray,
        *,
        regions: Iterable[str] | str,
        products: Iterable[str] | str,
        expires_on: date,
        record_ref: str,
    ) -> int:
        if not isinstance(expires_on, date) or isinstance(expires_on, datetime):
            raise TypeError(f"expires_on must be a date, got {expires_on!r}")
        region_list = _codes("regions", regions)
        if "*" in region_list:
            raise ValueError("regions: consent names its regions; '*' is not allowed")
        product_list = _codes("products", products)
        if "*" in product_list and len(product_list) > 1:
            raise ValueError(f"products: '*' stands alone, got {','.join(product_list)}")
        row = dict(
            name=_text("name", name),
            embedding=_embedding_bytes(embedding),
            regions=",".join(region_list),
            products=",".join(product_list),
            expires_on=expires_on,
            record_ref=_text("record_ref", record_ref),
            added_at=datetime.now(timezone.utc),
        )
        with self.engine.begin() as conn:
            return int(conn.execute(insert(consent_table).values(**row)).inserted_primary_key[0])

    def list(self, kind: RegistryKind) -> tuple[WatchEntry, ...] | tuple[ConsentEntry, ...]:
        table = _table(kind)
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id)).mappings().all()
        if kind == "watch":
            return tuple(WatchEntry(**dict(r)) for r in rows)
        return tuple(
            ConsentEntry(**{**dict(r), "regions": tuple(r["regions"].split(",")), "products": tuple(r["products"].split(","))})
            for r in rows
        )

    def remove(self, kind: RegistryKind, entry_id: int) -> None:
        table = _table(kind)
        with self.engine.begin() as conn:
            if conn.execute(delete(table).where(table.c.id == entry_id)).rowcount != 1:
                raise KeyError(f"no {kind} entry with id {entry_id}")


def _table(kind: str) -> Table:
    if kind == "watch":
        return watchlist_table
    if kind == "consent":
        return consent_table
    raise ValueError(f"kind must be 'watch' or 'consent', got {kind!r}")


def _text(field: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    return value.strip()


def _codes(field: str, value: Iterable[str] | str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = tuple(str(v).strip() for v in items)
    if not codes or any(not c for c in codes):
        raise ValueError(f"{field} must be a non-empty list of codes, got {value!r}")
    return codes


def _embedding_bytes(embedding: np.ndarray) -> bytes:
    vec = np.asarray(embedding, dtype=np.float32)
    if vec.shape != (EMBEDDING_DIM,):
        raise ValueError(f"embedding must have shape ({EMBEDDING_DIM},), got {vec.shape}")
    if not np.all(np.isfinite(vec)):
        raise ValueError("embedding has non-finite values")
    return vec.tobytes()
