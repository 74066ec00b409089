"""docs/audit-json.md is the schema of `tessera audit --json`: its table names every key of every row."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from compliance.audit import AuditRecord, audit_paths

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "c2pa-external"


def documented(section: str) -> list[str]:
    """The keys of one table of docs/audit-json.md, in their order."""
    text = (ROOT / "docs" / "audit-json.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z0-9_]+)` \|", body, flags=re.M)


def test_every_row_has_exactly_the_documented_keys(tmp_path):
    for name in ("C.jpg", "no_manifest.jpg", "E-sig-CA.jpg"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere.mp4")
    records = audit_paths([tmp_path], anchors_pem=None, lookup=None)
    bare = AuditRecord(path=Path("ledger.db"), sha256=None, c2pa_state="ledger", c2pa_codes=(),
                       digital_source_type=None, signer=None, claimed_asset_id=None, asset_id=None,
                       in_ledger=False, verdict="fail", problems=("x",))
    keys = documented("Row")
    assert len(records) == 4 and len(keys) == len(set(keys))
    for record in [*records, bare]:
        assert list(record.to_dict()) == keys, record.path


def test_candidate_keys_are_documented():
    from provenance.recover import Candidate

    candidate = Candidate(asset_id="a", distance=3, votes=2, frames=4, text_distance=None)
    assert list(candidate.to_dict()) == documented("Candidate")
