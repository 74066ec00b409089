"""Seals: the ledger's own rows covered by the journal's signed hash chain.

Whoever can write the ledger database can change, delete or insert rows of `assets`,
`manifests`, the soft-binding tables and the registries; without the signing key they cannot
extend or rewrite the journal (its head is signed). So each write of such a row is followed by
a `ledger_sealed` journal event recording the row's content, and `verify_ledger` compares every
row with its latest seal:

| row | problem |
| --- | --- |
| a sealed column differs | "asset tsr-... in OUT row altered: sha256 differs from its seal (seq N)" |
| sealed, not there | "asset tsr-... in OUT sealed at seq N is missing" |
| there, never sealed | "asset tsr-... in OUT not sealed (not written by a Tessera render with the signing key)" |

What a seal records, per row: every column's value (binary values, JSON and text over 256
characters as their sha256), except an asset's `status` (active, superseded, retired: the
render's view of the row, rewritten by later renders; no verdict depends on it). A column a
later schema adds is covered from the row's next seal on. A removed registry entry is sealed
as removed (`values` null).

A ledger made before seals existed has rows and no seal: it is reported as unsealed (no row
is trusted for recovery) until the next write that seals, which first seals every row as
found ("adopted"): what happened to the rows before that cannot be checked.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from compliance.journal import Journal, JournalEvent, VerifyResult, journal_table
from compliance.protected_works import protected_works_table
from compliance.registry import consent_table, watchlist_table
from foundation.primitives import canonical_json, sha256_text
from provenance.ledger import assets, manifests
from provenance.soft_binding import fingerprints, text_prints_table, watermarks

__all__ = ["KINDS", "LedgerIntegrity", "adopt_unsealed", "asset_key", "seal_rows", "sealed_keys", "verify_ledger"]

SEAL_KEY = "tessera:ledger"        # the variant key of every seal event (one indexed lookup finds them)
SEAL_ACTION = "ledger_sealed"
SEALER = "tessera"
UNSEALED_COLUMNS = {"asset": frozenset({"status"})}
LONG_TEXT = 256
# What each kind of row is called in a problem; the key follows.
KINDS = {"asset": "asset", "soft_binding": "soft binding of", "watch": "watch-list entry #",
         "consent": "consent record #", "protected_work": "protected work #"}


def asset_key(asset_id: str, output_dir: Path | str) -> str:
    """The seal key of an asset row: an asset has one row per output folder (see provenance.ledger)."""
    return f"{asset_id}@{Path(output_dir)}"


def _asset_id(key: str) -> str:
    return key.split("@", 1)[0]


@dataclass(frozen=True)
class Seal:
    kind: str
    key: str
    seq: int
    values: Mapping[str, Any] | None       # None: sealed as removed


@dataclass(frozen=True)
class LedgerProblem:
    kind: str
    key: str
    text: str


@dataclass(frozen=True)
class LedgerIntegrity:
    """The ledger's rows compared with their seals, once per audit or verify."""
    sealed: bool                           # the journal holds seals at all (false: a ledger made before them)
    journal: VerifyResult | None           # None: no signer certificate in this home to verify with
    problems: tuple[LedgerProblem, ...]
    rows: int                              # rows checked
    adopted_at: int | None = None          # seq of the seal that adopted the rows found unsealed
    _by_row: dict[tuple[str, str], list[str]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def intact(self) -> bool:
        return self.sealed and self.journal is not None and self.journal.ok and not self.problems

    def row_problems(self, kind: str, key: str) -> list[str]:
        """Problems of one row; for kind "asset", `key` is an asset id and every folder's row counts
        (an asset whose record is altered in one folder is not trusted in any)."""
        return self._by_row.get((kind, key), [])

    def untrusted(self, asset_id: str) -> str | None:
        """Why the records of `asset_id` (asset row, manifest copy, soft bindings) must not be used, or None."""
        if self.journal is None:
            return "the ledger's seals cannot be checked (no signer certificate in this home)"
        if not self.journal.ok:
            return f"the journal is NOT intact ({self.journal.problem}): no ledger row can be trusted"
        if not self.sealed:
            return "the ledger is not sealed (made before seals; render once to seal it)"
        found = self.row_problems("asset", asset_id) + self.row_problems("soft_binding", asset_id)
        return "; ".join(found) or None

    def summary(self) -> str:
        rows = f"{self.rows} row{'' if self.rows == 1 else 's'}"
        if self.journal is None:
            return "ledger seals not checked: no signer certificate in this home"
        if not self.sealed:
            return (f"ledger NOT sealed: {rows} made before seals (sealed from the next render on)" if self.rows
                    else "ledger empty: no row to seal yet")
        if self.intact:
            adopted = f"; rows found unsealed were adopted at seq {self.adopted_at}" if self.adopted_at else ""
            return f"ledger intact: {rows} {'matches its seal' if self.rows == 1 else 'match their seals'}{adopted}"
        return f"ledger NOT intact: {len(self.problems)} problem{'' if len(self.problems) == 1 else 's'}"


# writing --------------------------------------------------------------------------------

def seal_rows(journal: Journal, engine: Engine, rows: Iterable[tuple[str, str]], *, adopted: bool = False) -> None:
    """Append one seal event recording the current content of each (kind, key) row (removed: null).
    The first seal of a ledger made before seals adopts its rows first (see adopt_unsealed)."""
    rows = list(rows)
    if not adopted:
        adopt_unsealed(journal, engine, besides=rows)
    current = _current(engine, rows)
    sealed = [{"kind": kind, "key": key, "values": current.get((kind, key))} for kind, key in rows]
    if not sealed:
        return
    detail: dict[str, Any] = {"rows": sealed}
    if adopted:
        detail["adopted"] = True
    journal.append(JournalEvent(SEAL_KEY, SEALER, "system", SEAL_ACTION, detail=detail))


def adopt_unsealed(journal: Journal, engine: Engine, besides: Iterable[tuple[str, str]] = ()) -> int:
    """A ledger with rows and no seal at all (made before seals): seal every row as found, once
    (`besides`: rows about to be sealed as written). Returns the number of rows adopted (0 when
    the ledger has seals already or no other rows)."""
    with engine.connect() as c:
        if c.execute(select(journal_table.c.seq).where(journal_table.c.variant_key == SEAL_KEY).limit(1)).first():
            return 0
    rows = sorted(set(_current(engine)) - set(besides))
    if rows:
        seal_rows(journal, engine, rows, adopted=True)
    return len(rows)


def sealed_keys(journal: Journal, kind: str) -> set[str]:
    """Keys of `kind` whose latest seal records a row (not a removal)."""
    return {key for (k, key), s in _latest_seals(journal).items() if k == kind and s.values is not None}


# checking -------------------------------------------------------------------------------

def verify_ledger(journal: Journal | None, engine: Engine) -> LedgerIntegrity:
    """Every sealable row compared with its latest seal, after the journal's own chain and head."""
    current = _current(engine)
    if journal is None:
        return LedgerIntegrity(sealed=False, journal=None, problems=(), rows=len(current))
    chain = journal.verify()
    events = _seal_events(journal)
    if not events:
        return LedgerIntegrity(sealed=False, journal=chain, problems=(), rows=len(current))
    seals = _latest(events)
    adopted_at = next((e.seq for e in events if e.detail.get("adopted")), None)
    problems: list[LedgerProblem] = []
    # 1. Each seal against its row: altered, missing.
    for (kind, key), seal in sorted(seals.items()):
        row = current.get((kind, key))
        name = _name(kind, key)
        if seal.values is None:
            if row is not None:
                problems.append(LedgerProblem(kind, key, f"{name} not sealed (it was removed at seq {seal.seq})"))
            continue
        if row is None:
            problems.append(LedgerProblem(kind, key, f"{name} sealed at seq {seal.seq} is missing"))
            continue
        changed = [c for c, v in seal.values.items() if row.get(c) != v]
        if changed:
            what = f"{', '.join(changed)} {'differs' if len(changed) == 1 else 'differ'}"
            problems.append(LedgerProblem(kind, key, f"{name} {'row ' if kind == 'asset' else ''}altered: "
                                                     f"{what} from its seal (seq {seal.seq})"))
    # 2. Rows no seal covers: written by someone without the signing key.
    for kind, key in sorted(set(current) - set(seals)):
        problems.append(LedgerProblem(kind, key, f"{_name(kind, key)} not sealed "
                                                 f"(not written by Tessera with the signing key)"))
    by_row: dict[tuple[str, str], list[str]] = {}
    for p in problems:
        by_row.setdefault((p.kind, _asset_id(p.key) if p.kind == "asset" else p.key), []).append(p.text)
    return LedgerIntegrity(sealed=True, journal=chain, problems=tuple(problems), rows=len(current),
                           adopted_at=adopted_at, _by_row=by_row)


# rows -----------------------------------------------------------------------------------

def _current(engine: Engine, only: Iterable[tuple[str, str]] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, key) -> the row's sealable content, for every row of the sealed tables (or only those named)."""
    keys: dict[str, set[str]] | None = None
    if only is not None:
        keys = {}
        for kind, key in only:
            keys.setdefault(kind, set()).add(key)

    def rows(c, kind: str, table, key_column):
        query = select(table)
        if keys is not None and kind == "asset":
            query = query.where(key_column.in_(sorted({_asset_id(k) for k in keys[kind]})))
        elif keys is not None:
            query = query.where(key_column.in_(sorted(keys[kind])) if key_column.type.python_type is str
                                else key_column.in_(sorted(int(k) for k in keys[kind])))
        return c.execute(query).mappings().all()

    want = set(KINDS) if keys is None else set(keys)
    tables = set(inspect(engine).get_table_names())
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as c:
        if "asset" in want and "assets" in tables:
            copies = {(r["asset_id"], r["output_dir"]): r for r in rows(c, "asset", manifests, manifests.c.asset_id)}
            for r in rows(c, "asset", assets, assets.c.asset_id):
                key = asset_key(r["asset_id"], r["output_dir"])
                if keys is not None and key not in keys["asset"]:
                    continue               # another folder's row of the same asset
                values = _values(r, UNSEALED_COLUMNS["asset"])
                copy = copies.get((r["asset_id"], r["output_dir"]))
                values["manifests.label"] = _value(copy["label"]) if copy else None
                values["manifests.manifest_json"] = _value(copy["manifest_json"]) if copy else None
                out[("asset", key)] = values
        if "soft_binding" in want and "watermarks" in tables:
            prints: dict[str, list[str]] = {}
            for r in sorted(rows(c, "soft_binding", fingerprints, fingerprints.c.asset_id),
                            key=lambda r: (r["asset_id"], r["seq"])):
                prints.setdefault(r["asset_id"], []).append(r["hash"])
            marks = {r["asset_id"]: r["payload"] for r in rows(c, "soft_binding", watermarks, watermarks.c.asset_id)}
            texts = ({r["asset_id"]: r["prints"] for r in rows(c, "soft_binding", text_prints_table,
                                                                text_prints_table.c.asset_id)}
                     if text_prints_table.name in tables else {})
            for asset_id in set(marks) | set(prints):
                out[("soft_binding", asset_id)] = {"payload": marks.get(asset_id),
                                                   "fingerprints": _value(prints.get(asset_id, [])),
                                                   "text_prints": _value(texts.get(asset_id))}
        for kind, table in (("watch", watchlist_table), ("consent", consent_table),
                            ("protected_work", protected_works_table)):
            if kind in want and table.name in tables:
                for r in rows(c, kind, table, table.c.id):
                    out[(kind, str(r["id"]))] = _values(r, frozenset())
    return out


def _values(row: Mapping[str, Any], skip: frozenset[str]) -> dict[str, Any]:
    return {k: _value(v) for k, v in row.items() if k not in skip}


def _value(v: Any) -> Any:
    """A column value as a seal records it: JSON-safe, long or binary content as its sha256."""
    if isinstance(v, datetime):
        # SQLite hands back naive datetimes; everything we store is UTC.
        v = v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)
        return v.isoformat(timespec="microseconds")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "sha256:" + sha256_text(bytes(v).hex())
    if isinstance(v, (dict, list, tuple)):
        return "sha256:" + sha256_text(canonical_json(v))
    if isinstance(v, str) and len(v) > LONG_TEXT:
        return "sha256:" + sha256_text(v)
    return v


# seals ----------------------------------------------------------------------------------

def _seal_events(journal: Journal):
    return [e for e in journal.events(variant_key=SEAL_KEY) if e.action == SEAL_ACTION]


def _latest(events) -> dict[tuple[str, str], Seal]:
    seals: dict[tuple[str, str], Seal] = {}
    for e in events:                       # seq order: a later seal of a row replaces the earlier one
        for r in e.detail.get("rows", []):
            seals[(r["kind"], r["key"])] = Seal(r["kind"], r["key"], e.seq, r["values"])
    return seals


def _latest_seals(journal: Journal) -> dict[tuple[str, str], Seal]:
    return _latest(_seal_events(journal))


def _name(kind: str, key: str) -> str:
    if kind == "asset" and "@" in key:
        return f"asset {_asset_id(key)} in {key.split('@', 1)[1]}"
    prefix = KINDS.get(kind, kind)
    return f"{prefix}{key}" if prefix.endswith("#") else f"{prefix} {key}"
