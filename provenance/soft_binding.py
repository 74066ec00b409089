"""Durable content credentials: the watermark payload and fingerprints that find a manifest again.

Each variant carries a watermark whose payload names its asset, and its fingerprints are kept;
both go into the manifest (a `c2pa.soft-binding` assertion and a fingerprint assertion) and into
this store, so an audit can find the stored manifest of a copy that lost its own. The text prints
(the variant's text regions, hashed on the same frames) are kept here too: they rank look-alike
candidates (locale siblings share the picture, not the copy). An asset recorded before text prints
existed has no `text_prints` row and is ranked by its whole-frame fingerprints alone.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateIndex, CreateTable

from foundation.primitives import canonical_json
from foundation.records import FrameHook
from provenance.spec import Action

if TYPE_CHECKING:  # the tables are read by every plan (seals); the marks (scipy) only by a render or audit
    from provenance.fingerprint import FingerprintIndex, FingerprintRecorder, Region, TextPrints

WATERMARK_ALG = "com.tessera.watermark.v1"      # our algorithm (docs/watermark.md), not in the C2PA list
FINGERPRINT_ALG = "com.tessera.phash64.v1"
FINGERPRINT_LABEL = "com.tessera.fingerprint"
PER_SECOND = 2

soft_binding_metadata = MetaData()
watermarks = Table(
    "watermarks", soft_binding_metadata,
    Column("asset_id", String(64), primary_key=True),
    Column("payload", String(16), nullable=False, index=True),     # 64-bit unsigned as hex (SQL ints are signed)
)
fingerprints = Table(
    "fingerprints", soft_binding_metadata,
    Column("asset_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("hash", String(16), nullable=False),
)
# One row per asset: {"regions": [[x0, y0, x1, y1], ...], "hashes": [[256-bit hex per region], ...per frame]}.
# A table of its own (created like the others), so ledgers with older rows need no migration.
text_prints_table = Table(
    "text_prints", soft_binding_metadata,
    Column("asset_id", String(64), primary_key=True),
    Column("prints", Text, nullable=False),
)


@dataclass
class DurableMarks:
    """The hook that marks and fingerprints a variant's frames, and what it recorded."""
    payload: int
    hook: FrameHook
    recorder: FingerprintRecorder


def durable_marks(payload: int, key: bytes, fps: float, *, text_regions: tuple[Region, ...] = ()) -> DurableMarks:
    """Watermark each final frame in place (the composer's frames are its own), then fingerprint
    the marked frame (what is encoded, but for the text layers the composer puts back: a
    mark-sized change the perceptual hash does not see). text_regions: where the variant's text
    boxes are (fractions of the frame); their text prints tell it from its locale siblings."""
    from provenance.fingerprint import FingerprintRecorder
    from provenance.watermark import watermark_hook

    mark = watermark_hook(payload, key, in_place=True)
    recorder = FingerprintRecorder(fps, per_second=PER_SECOND, regions=text_regions)
    return DurableMarks(payload, lambda i, frame: recorder(i, mark(i, frame)), recorder)


def manifest_parts(marks: DurableMarks, duration_ms: int) -> tuple[Action, tuple[tuple[str, str], ...]]:
    """The c2pa.watermarked action and the soft-binding + fingerprint assertions for a manifest."""
    action = Action("c2pa.watermarked", "Tessera", parameters_json=json.dumps({"alg": WATERMARK_ALG}))
    soft = {
        "alg": WATERMARK_ALG, "pad": [0],
        "blocks": [{"scope": {"timespan": {"start": 0, "end": duration_ms}},
                    "value": base64.b64encode(marks.payload.to_bytes(8, "big")).decode()}],
    }
    prints = {"alg": FINGERPRINT_ALG, "per_second": PER_SECOND,
              "hashes": [f"{h:016x}" for h in marks.recorder.hashes]}
    return action, (("c2pa.soft-binding", json.dumps(soft)), (FINGERPRINT_LABEL, json.dumps(prints)))


class SoftBindingStore:
    """Watermark payloads and fingerprints per asset, in the ledger database."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # IF NOT EXISTS, not create_all's check-then-create: shard processes sharing one ledger
        # open their stores at the same moment ("table watermarks already exists" in a nightly run).
        with engine.begin() as c:
            for table in soft_binding_metadata.sorted_tables:
                c.execute(CreateTable(table, if_not_exists=True))
                for index in table.indexes:
                    c.execute(CreateIndex(index, if_not_exists=True))

    def record(self, asset_id: str, payload: int, hashes: tuple[int, ...] | list[int],
               text: TextPrints | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(delete(watermarks).where(watermarks.c.asset_id == asset_id))
            c.execute(delete(fingerprints).where(fingerprints.c.asset_id == asset_id))
            c.execute(delete(text_prints_table).where(text_prints_table.c.asset_id == asset_id))
            c.execute(insert(watermarks).values(asset_id=asset_id, payload=f"{payload:016x}"))
            if hashes:
                c.execute(insert(fingerprints), [{"asset_id": asset_id, "seq": i, "hash": f"{h:016x}"}
                                                 for i, h in enumerate(hashes)])
            if text is not None and text.hashes:
                c.execute(insert(text_prints_table).values(asset_id=asset_id, prints=canonical_json(text.to_json())))

    def text_prints(self, asset_ids: list[str]) -> dict[str, TextPrints]:
        """The stored text prints of these assets (an asset recorded without any is left out)."""
        from provenance.fingerprint import TextPrints

        if not asset_ids:
            return {}
        with self.engine.connect() as c:
            rows = c.execute(select(text_prints_table.c.asset_id, text_prints_table.c.prints)
                             .where(text_prints_table.c.asset_id.in_(asset_ids))).all()
        return {asset_id: TextPrints.from_json(json.loads(prints)) for asset_id, prints in rows}

    def asset_for_payload(self, payload: int) -> str | None:
        with self.engine.connect() as c:
            return c.execute(select(watermarks.c.asset_id).where(watermarks.c.payload == f"{payload:016x}")).scalar()

    def fingerprint_index(self) -> FingerprintIndex:
        """Every stored fingerprint in one vectorised index (built per audit; ~1 s per million)."""
        from provenance.fingerprint import FingerprintIndex

        with self.engine.connect() as c:
            rows = c.execute(select(fingerprints.c.asset_id, fingerprints.c.hash)).all()
        index = FingerprintIndex()
        by_asset: dict[str, list[int]] = {}
        for asset_id, h in rows:
            by_asset.setdefault(asset_id, []).append(int(h, 16))
        for asset_id, hashes in by_asset.items():
            index.add(asset_id, np.array(hashes, dtype=np.uint64))
        return index
