"""The audit gives every file a verdict an officer can act on, ours or not."""
import csv
import json
import shutil

import pytest

from compliance import AuditRecord, audit_paths, exit_code
from audit_media import ASSET_ID, FIXTURES
from provenance.reader import MEDIA_EXTENSIONS


def _by_name(records):
    return {r.path.name: r for r in records}


def test_external_files_read_exactly_as_the_c2pa_reference_expects(creds):
    # Our own dev root is trusted here: foreign files must still read as the reference says.
    records = _by_name(audit_paths([FIXTURES], anchors_pem=creds.anchors_pem, lookup=None))
    with open(FIXTURES / "EXPECTED.csv", newline="") as f:
        expected = list(csv.DictReader(f))
    assert sorted(records) == sorted(row["file"] for row in expected)
    for row in expected:
        rec = records[row["file"]]
        assert rec.c2pa_state == row["expected_state"], row["file"]
        if row["expected_state"] == "error":  # the CSV's codes column describes the hostile file instead
            assert rec.c2pa_codes == () and rec.verdict == "fail", row["file"]
            assert "nested" in rec.problems[0], row["file"]
        else:
            want = tuple(sorted(filter(None, row["expected_codes"].split(";"))))
            assert rec.c2pa_codes == want, row["file"]


def test_external_verdicts_follow_the_policy(creds):
    records = _by_name(audit_paths([FIXTURES], anchors_pem=creds.anchors_pem, lookup=None))
    assert records["C.jpg"].verdict == "warn"
    assert records["C.jpg"].problems == ("signingCredential.untrusted: signer not in trust list",)
    assert records["XCA.jpg"].verdict == "fail"
    assert records["XCA.jpg"].problems == ("assertion.dataHash.mismatch: content changed after signing",)
    assert records["nikon-20221019-building.jpeg"].problems == (
        "signingCredential.expired: signing certificate had expired",)
    assert records["test.avi"].verdict == "warn"
    assert records["test.avi"].problems == ("no content credentials",)
    assert records["nested_moov_1000.mp4"].problems[0].startswith("cannot verify: nested_moov_1000.mp4:")
    assert exit_code(list(records.values())) == 1


def test_a_directory_audit_returns_every_media_file_sorted(tmp_path, media):
    shutil.copytree(FIXTURES, tmp_path / "in")
    (tmp_path / "in" / "deeper" / "more").mkdir(parents=True)
    shutil.copy(media / "signed.mp4", tmp_path / "in" / "deeper" / "more" / "ad.MP4")
    records = audit_paths([tmp_path / "in"], anchors_pem=None, lookup=None)
    media_files = sorted(p for p in (tmp_path / "in").rglob("*") if p.suffix.lower() in MEDIA_EXTENSIONS)
    assert [r.path for r in records] == media_files
    assert len(records) == 17  # 16 external files + ours; README.md and EXPECTED.csv are not media
    # a file named twice, directly and through its folder, is audited once
    again = audit_paths([tmp_path / "in" / "C.jpg", tmp_path / "in"], anchors_pem=None, lookup=None)
    assert len(again) == 17 and again[0].path.name == "C.jpg"


def test_our_trusted_file_known_to_the_ledger_passes(media, creds):
    signed = media / "signed.mp4"
    [probe] = audit_paths([signed], anchors_pem=creds.anchors_pem, lookup=None)
    ledger = {probe.sha256: ASSET_ID}
    [rec] = audit_paths([signed], anchors_pem=creds.anchors_pem, lookup=ledger.get)
    assert (rec.verdict, rec.problems, rec.c2pa_state) == ("pass", (), "Trusted")
    assert (rec.asset_id, rec.claimed_asset_id, rec.in_ledger) == (ASSET_ID, ASSET_ID, True)
    assert rec.signer == "Tessera Development"
    assert rec.digital_source_type.endswith("/compositeWithTrainedAlgorithmicMedia")
    assert exit_code([rec]) == 0


def test_a_claimed_asset_id_unknown_to_the_ledger_warns(media, creds):
    [rec] = audit_paths([media / "signed.mp4"], anchors_pem=creds.anchors_pem, lookup={}.get)
    assert (rec.verdict, rec.in_ledger, rec.asset_id) == ("warn", False, None)
    assert rec.problems == (f"manifest claims asset id {ASSET_ID} but the ledger has no record of this file",)
    assert exit_code([rec]) == 0


def test_a_ledger_record_contradicting_the_claim_fails(media, creds):
    [rec] = audit_paths([media / "signed.mp4"], anchors_pem=creds.anchors_pem, lookup=lambda sha: "tsr-other")
    assert rec.verdict == "fail"
    assert rec.problems == (f"manifest claims asset id {ASSET_ID} but the ledger records this file as tsr-other",)


def test_our_file_without_trust_anchors_warns(media):
    [rec] = audit_paths([media / "signed.mp4"], anchors_pem=None, lookup=None)
    assert (rec.c2pa_state, rec.verdict, rec.development_signer) == ("Valid", "warn", True)
    assert rec.problems == ("signingCredential.untrusted: signer not in trust list",
                            "development signer: trusted only in the Tessera home that made it")


def test_a_tampered_mp4_fails(media, creds, tmp_path):
    data = bytearray((media / "signed.mp4").read_bytes())
    mdat = data.index(b"mdat")
    data[mdat + (len(data) - mdat) // 2] ^= 0xFF
    (tmp_path / "tampered.mp4").write_bytes(bytes(data))
    [rec] = audit_paths([tmp_path / "tampered.mp4"], anchors_pem=creds.anchors_pem, lookup={}.get)
    assert (rec.c2pa_state, rec.c2pa_codes, rec.verdict) == ("Invalid", ("assertion.bmffHash.mismatch",), "fail")
    assert rec.problems[0] == "assertion.bmffHash.mismatch: content changed after signing"
    assert exit_code([rec]) == 1


def test_unsigned_and_unsupported_files(media, tmp_path):
    (tmp_path / "notes.txt").write_text("not media")
    unsigned, notes = audit_paths([media / "unsigned.mp4", tmp_path / "notes.txt"], anchors_pem=None, lookup=None)
    assert (unsigned.c2pa_state, unsigned.verdict, unsigned.problems) == ("absent", "warn", ("no content credentials",))
    assert (notes.c2pa_state, notes.verdict) == ("error", "fail")
    assert notes.problems == ("cannot verify: unsupported media type: notes.txt",)
    assert exit_code([unsigned]) == 0 and exit_code([unsigned, notes]) == 1 and exit_code([]) == 0


def test_a_missing_path_is_an_error_not_an_empty_audit(tmp_path):
    with pytest.raises(FileNotFoundError, match="audit path does not exist: .*nowhere"):
        audit_paths([tmp_path / "nowhere"], anchors_pem=None, lookup=None)


def test_records_serialise_to_plain_json(media, creds):
    [rec] = audit_paths([media / "signed.mp4"], anchors_pem=creds.anchors_pem, lookup=None)
    assert isinstance(rec, AuditRecord)
    row = json.loads(json.dumps(rec.to_dict()))
    assert row == {
        "path": str(media / "signed.mp4"), "sha256": rec.sha256, "c2pa_state": "Trusted", "c2pa_codes": [],
        "digital_source_type": rec.digital_source_type, "signer": "Tessera Development",
        "signed_at": rec.signed_at, "actions": list(rec.actions), "ingredients": list(rec.ingredients),
        "claimed_asset_id": ASSET_ID, "asset_id": None, "in_ledger": False, "verdict": "pass", "problems": [],
        "region": None, "labels": {}, "watermark": None, "fingerprint_match": None, "recovered": False, "recovery": None,
        "similar_to": [], "trust_anchor": rec.trust_anchor, "development_signer": True, "location": None,
        "recorded_path": None,
    }
    assert rec.trust_anchor.startswith("Tessera Development Root CA (sha256 ")
    assert len(rec.sha256) == 64
    assert rec.signed_at is None   # signed without a time-stamp authority: no trusted time
    assert row["actions"] and all(set(a) == {"action", "digital_source_type"} for a in row["actions"])
