"""compliance.report: the audit as one self-contained HTML file, or as formula-safe CSV."""
from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from compliance.audit import AuditRecord, audit_paths
from compliance.report import ReportError, csv_cell, render_csv, report_format, write_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-external"
HOSTILE = "<script>alert(1)<script>.jpg"


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    for name in ("C.jpg", "no_manifest.jpg", "E-sig-CA.jpg", "video1.mp4", "nested_moov_1000.mp4"):
        shutil.copy(FIXTURES / name, folder / name)
    shutil.copy(FIXTURES / "C.jpg", folder / HOSTILE)
    shutil.copy(FIXTURES / "no_manifest.jpg", folder / "إعلان.jpg")
    (folder / "broken.mp4").symlink_to(folder / "nowhere.mp4")
    return audit_paths([folder], anchors_pem=None, lookup=None)


def test_html_has_one_section_per_file_a_thumbnail_for_every_picture_and_escapes_names(audited, tmp_path):
    out = tmp_path / "audit.html"
    write_report(out, audited, command="tessera audit media", now=datetime(2026, 12, 7, tzinfo=timezone.utc))
    html = out.read_text(encoding="utf-8")
    sections = re.findall(r'<section class="file".*?</section>', html, flags=re.S)
    assert len(sections) == len(audited) == 8
    for record, section in zip(audited, sections):
        readable = record.sha256 is not None and record.path.name != "nested_moov_1000.mp4"   # no video stream
        assert ('src="data:image/jpeg;base64,' in section) == readable, record.path
        if record.sha256 is None:
            assert "no thumbnail: the file could not be read" in section
        elif not readable:
            assert "no thumbnail: no picture could be decoded (no video stream found)" in section
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;script&gt;.jpg" in html
    assert '<h2 class="path" dir="auto">' in html and "إعلان.jpg" in html
    assert re.search(r"<th>Tessera</th><td>\d", html) and "<th>c2pa-python</th>" in html
    c = next(s for r, s in zip(audited, sections) if r.path.name == "video1.mp4")
    assert "<td>2023-12-02T16:34:19+00:00</td>" in c and "ingredient (parentOf): video1.mp4 (with content credentials)" in c
    assert "<li dir=\"auto\">c2pa.opened</li>" in c
    assert "tessera audit media" in html and "2026-12-07 00:00:00 UTC" in html
    assert "http://" not in html.split("<body>", 1)[1].replace("http://cv.iptc.org", "")   # nothing fetched
    assert not list(tmp_path.glob(".*.part"))   # written atomically: no temporary left


def test_csv_has_the_json_keys_as_columns_and_one_row_per_record(audited, tmp_path):
    out = tmp_path / "audit.csv"
    write_report(out, audited, command="x")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == list(audited[0].to_dict()) and len(rows) == len(audited) + 1
    assert [r[rows[0].index("verdict")] for r in rows[1:]] == [a.verdict for a in audited]


def test_csv_cells_cannot_be_read_as_formulas():
    for text in ("=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("plain") == "plain" and csv_cell(None) == "" and csv_cell(True) == "true"
    record = AuditRecord(path=Path("=cmd|' /C calc'!A0.jpg"), sha256=None, c2pa_state="error", c2pa_codes=(),
                         digital_source_type=None, signer="@evil", claimed_asset_id=None, asset_id=None,
                         in_ledger=False, verdict="fail", problems=("-bad",))
    row = list(csv.reader(io.StringIO(render_csv([record]))))[1]
    assert row[0] == "'=cmd|' /C calc'!A0.jpg" and "'@evil" in row
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_an_unknown_extension_is_an_error_naming_it(tmp_path):
    assert report_format(Path("a.HTML")) == "html" and report_format(Path("a.csv")) == "csv"
    with pytest.raises(ReportError, match=r"audit\.pdf': a report is \.html or \.csv, not '\.pdf'"):
        write_report(tmp_path / "audit.pdf", [], command="x")
    assert not list(tmp_path.iterdir())
