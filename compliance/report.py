"""The audit as a file to hand over: one self-contained HTML page, or the same rows as CSV.

`write_report(path, records, command=...)` picks the format by the file's extension (.html or
.csv; anything else is a ReportError naming it) and writes the file atomically.

HTML: a summary (files per verdict, the command, Tessera's and c2pa's versions, the time) and one
section per row with what the audit found (docs/audit-json.md: signing time, actions and
ingredients as a history among it) and a thumbnail inlined as a
data: URI -- a small JPEG of an image, or of a video's first frame. Every value is escaped
(Jinja2 autoescape: any file can be audited, names included) and every text cell is dir="auto",
so right-to-left names and labels read in their own direction. No script, no external resource.

CSV: one row per record with the keys of the JSON rows as columns (lists and objects as compact
JSON). A cell that starts with = + - @, a tab or a carriage return gets a leading ' so that a
spreadsheet shows it as text instead of running it as a formula.
"""
from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from compliance.audit import VIDEO_SUFFIXES, AuditRecord
from foundation.frames import ClipError, probe, read_clip
from foundation.limits import Limits, run_limited
from foundation.primitives import IPTC_SOURCE_TYPES, pipeline_version, write_text_atomic

__all__ = ["REPORT_FORMATS", "ReportError", "csv_cell", "render_csv", "render_html", "report_format", "thumbnail",
           "write_report"]

REPORT_FORMATS = (".html", ".csv")
THUMB_BOX = 240                      # the thumbnail's longer side, pixels
THUMB_LIMITS = Limits(seconds=30.0, memory_mb=2048)   # a hostile file cannot hang or bloat the report
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ReportError(ValueError):
    """A report that cannot be written as asked (an unknown extension)."""


@dataclass(frozen=True)
class Thumbnail:
    data_uri: str | None             # data:image/jpeg;base64,...; None: none could be made
    note: str | None = None          # why there is none


def report_format(path: Path) -> str:
    """"html" or "csv", by the extension; a ReportError naming the file otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise ReportError(f"{str(path)!r}: a report is .html or .csv, not {suffix or 'a file without extension'!r}")
    return suffix[1:]


def write_report(path: Path, records: Sequence[AuditRecord], *, command: str, now: datetime | None = None) -> None:
    """The report of `records`, in the format the extension names, written atomically."""
    kind = report_format(path)
    text = render_html(records, command=command, now=now) if kind == "html" else render_csv(records)
    # A name with undecodable bytes holds lone surrogates: written as \udcXX, like the JSON output
    write_text_atomic(path, text.encode("utf-8", "backslashreplace").decode("utf-8"))


# ------------------------------------------------------------------------------------------------ CSV

def csv_cell(value: Any) -> str:
    """One CSV cell: text as is, None empty, lists and objects as JSON; never a formula."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def render_csv(records: Sequence[AuditRecord]) -> str:
    rows = [r.to_dict() for r in records]
    columns = list(rows[0]) if rows else list(_empty_row())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in columns])
    return out.getvalue()


def _empty_row() -> dict[str, Any]:
    return AuditRecord(path=Path(), sha256=None, c2pa_state="absent", c2pa_codes=(), digital_source_type=None,
                       signer=None, claimed_asset_id=None, asset_id=None, in_ledger=False, verdict="pass",
                       problems=()).to_dict()


# ----------------------------------------------------------------------------------------- thumbnails

def thumbnail(record: AuditRecord, limits: Limits = THUMB_LIMITS) -> Thumbnail:
    """A small JPEG of the file (an image, or a video's first frame), made in a limited child process."""
    if record.c2pa_state == "ledger":
        return Thumbnail(None, "no thumbnail: the ledger's row, not a media file")
    if record.sha256 is None:
        return Thumbnail(None, "no thumbnail: the file could not be read")
    result = run_limited(lambda: _jpeg(record.path), limits)
    if not result.ok:
        return Thumbnail(None, f"no thumbnail: {result.problem}")
    if isinstance(result.value, str):
        return Thumbnail(None, f"no thumbnail: no picture could be decoded ({result.value})")
    return Thumbnail("data:image/jpeg;base64," + base64.b64encode(result.value).decode("ascii"))


def _jpeg(path: Path) -> bytes | str:
    """The JPEG's bytes, or why there is none."""
    from PIL import Image

    try:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            w, h, _ = probe(path)
            scale = THUMB_BOX / max(w, h, 1)
            size = (max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2))
            frame = next(iter(read_clip(path, size=size, max_seconds=1.0)), None)
            if frame is None:
                return "the video has no frame"
            image = Image.fromarray(frame)
        else:
            image = Image.open(path)
            image.thumbnail((THUMB_BOX, THUMB_BOX))
            image = image.convert("RGB")
    except (ClipError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return str(exc).removeprefix(f"{path}: ") or type(exc).__name__
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


# ----------------------------------------------------------------------------------------------- HTML

def render_html(records: Sequence[AuditRecord], *, command: str, now: datetime | None = None) -> str:
    from jinja2 import Environment

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["source_type"] = _source_type
    rows = [(r.to_dict(), thumbnail(r)) for r in records]
    counts = {v: sum(r.verdict == v for r in records) for v in ("pass", "warn", "fail")}
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return env.from_string(TEMPLATE).render(rows=rows, counts=counts, total=len(records), command=command,
                                            when=when, versions=_versions())


def _versions() -> dict[str, str]:
    try:
        c2pa = metadata.version("c2pa-python")
    except metadata.PackageNotFoundError:
        c2pa = "unknown"
    return {"Tessera": pipeline_version().removeprefix("tessera/"), "c2pa-python": c2pa}


def _source_type(value: str | None) -> str:
    """The IPTC term without its namespace (the full IRI is in the JSON)."""
    if value is None:
        return "-"
    return value.removeprefix(IPTC_SOURCE_TYPES)


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera audit report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { text-align: start; vertical-align: top; padding: 2px 10px 2px 0; }
section { border-top: 1px solid #ccc; padding: 1em 0; display: flex; gap: 1.5em; }
.thumb { flex: 0 0 240px; }
.thumb img { max-width: 240px; max-height: 240px; border: 1px solid #ddd; }
.verdict { font-weight: bold; padding: 1px 6px; border-radius: 3px; }
.pass { background: #d7f5d7; } .warn { background: #fff0c2; } .fail { background: #ffd6d6; }
code, .path { font-family: ui-monospace, monospace; word-break: break-all; }
</style>
</head>
<body>
<h1>Tessera audit report</h1>
<table class="summary">
<tr><th>files</th><td>{{ total }}</td></tr>
{% for v in ("pass", "warn", "fail") %}
<tr><th><span class="verdict {{ v }}">{{ v }}</span></th><td>{{ counts[v] }}</td></tr>
{% endfor %}
<tr><th>command</th><td dir="auto"><code>{{ command }}</code></td></tr>
{% for name, version in versions.items() %}
<tr><th>{{ name }}</th><td>{{ version }}</td></tr>
{% endfor %}
<tr><th>generated</th><td>{{ when }}</td></tr>
</table>
{% for r, thumb in rows %}
<section class="file" id="file-{{ loop.index }}">
<div class="thumb">
{% if thumb.data_uri %}
<img src="{{ thumb.data_uri }}" alt="thumbnail of file {{ loop.index }}">
{% else %}
<p class="no-thumb">{{ thumb.note }}</p>
{% endif %}
</div>
<div>
<h2 class="path" dir="auto">{{ r.path }}</h2>
<table>
<tr><th>verdict</th><td><span class="verdict {{ r.verdict }}">{{ r.verdict }}</span></td></tr>
<tr><th>C2PA state</th><td>{{ r.c2pa_state }}{% if r.c2pa_codes %} ({{ r.c2pa_codes | join(", ") }}){% endif %}</td></tr>
<tr><th>trust anchor</th><td dir="auto">{{ r.trust_anchor or "-" }}{% if r.development_signer %} (development signer: trusted in its own home only){% endif %}</td></tr>
<tr><th>signer</th><td dir="auto">{{ r.signer or "-" }}</td></tr>
<tr><th>signed at</th><td>{{ r.signed_at or "-" }}</td></tr>
<tr><th>digital source type</th><td>{{ r.digital_source_type | source_type }}</td></tr>
<tr><th>asset</th><td dir="auto">{{ r.asset_id or "-" }}{% if r.claimed_asset_id and r.claimed_asset_id != r.asset_id %} (manifest claims {{ r.claimed_asset_id }}){% endif %}</td></tr>
{% if r.location %}
<tr><th>location</th><td dir="auto">{{ r.location }}{% if r.recorded_path %}: recorded at {{ r.recorded_path }}{% endif %}</td></tr>
{% endif %}
<tr><th>sha256</th><td><code>{{ r.sha256 or "-" }}</code></td></tr>
</table>
{% if r.actions or r.ingredients %}
<h3>history (as the manifest states it)</h3>
<ol>
{% for i in r.ingredients %}<li dir="auto">ingredient ({{ i.relationship }}): {{ i.title }}{% if i.has_manifest %} (with content credentials){% endif %}</li>
{% endfor %}
{% for a in r.actions %}<li dir="auto">{{ a.action }}{% if a.digital_source_type %} ({{ a.digital_source_type | source_type }}){% endif %}</li>
{% endfor %}
</ol>
{% endif %}
{% if r.problems %}
<h3>problems</h3>
<ul>{% for p in r.problems %}<li dir="auto">{{ p }}</li>{% endfor %}</ul>
{% endif %}
{% if r.region %}
<h3>labels ({{ r.region }})</h3>
<table>{% for rule, status in r.labels.items() %}<tr><td dir="auto">{{ rule }}</td><td>{{ status }}</td></tr>{% endfor %}</table>
{% endif %}
{% if r.watermark or r.recovery or r.similar_to %}
<h3>watermark, fingerprints, recovery</h3>
<table>
{% if r.watermark %}
<tr><th>watermark</th><td dir="auto">{% if r.watermark.found %}found: asset {{ r.watermark.asset_id }}{% else %}not found{% endif %} (confidence {{ r.watermark.confidence }})</td></tr>
{% endif %}
{% if r.fingerprint_match %}
<tr><th>fingerprints</th><td dir="auto">agree: asset {{ r.fingerprint_match.asset_id }}, distance {{ r.fingerprint_match.distance }}/64, {{ r.fingerprint_match.votes }} of {{ r.fingerprint_match.frames }} frames</td></tr>
{% endif %}
{% if r.recovery %}
<tr><th>recovered</th><td dir="auto">a copy of asset {{ r.recovery.asset_id }}, signed by {{ r.recovery.signer or "-" }} ({{ r.recovery.digital_source_type | source_type }}){% if r.recovery.changes %}: {{ r.recovery.changes | join("; ") }}{% endif %}</td></tr>
{% endif %}
{% for c in r.similar_to %}
<tr><th>similar to</th><td dir="auto">asset {{ c.asset_id }}, distance {{ c.distance }}/64, {{ c.votes }} of {{ c.frames }} frames: {{ c.note }}</td></tr>
{% endfor %}
</table>
{% endif %}
</div>
</section>
{% endfor %}
</body>
</html>
"""
