"""One signer per home: a home set to a production chain renders, approves and verifies with it,
and never creates a development key."""
from __future__ import annotations

import pytest

import json
import os
import subprocess
import sys
from pathlib import Path

from flow_catalogs import small_catalog
from production_ca_for_flows import make_production_ca
from provenance import read_c2pa

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out

REPO = Path(__file__).resolve().parents[2]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "flows.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=900, cwd=REPO)


def test_a_production_home_renders_approves_and_verifies_with_its_one_signer(tmp_path):
    root, chain, key = make_production_ca(tmp_path / "secure")       # the key lives outside the home
    home, out = tmp_path / "home", tmp_path / "out"
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1;16:9")
    configured = _cli("credentials", "set", "--cert-chain", chain, "--private-key", key, "--home", home)
    assert configured.returncode == 0, configured.stderr
    assert "this home signs as Acme Ads GmbH" in configured.stdout
    # 1. Render: everything waits for a person; nothing is signed yet
    rendered = _cli("render", catalog, "--out", out, "--home", home, "--require-review", "--short-side", "288")
    assert rendered.returncode == 0, rendered.stderr
    held = json.loads(_cli("review", "list", "--json", "--home", home).stdout)
    assert len(held) == 2
    # 2. Approve: signed and published with the production chain
    for item in held:
        approved = _cli("review", "approve", item["asset_id"], "--by", "Ana Ruiz", "--home", home)
        assert approved.returncode == 0, approved.stderr
    files = sorted(out.rglob("*.mp4"))
    assert len(files) == 2
    assert {read_c2pa(f, None).signer for f in files} == {"Acme Ads GmbH"}
    # 3. No development key anywhere in the home
    assert not [p.name for p in home.rglob("dev-*")]
    # 4. The journal verifies with the recorded signer
    verified = _cli("authorship", "verify", "--home", home)
    assert verified.returncode == 0 and "journal intact" in verified.stdout, verified.stdout + verified.stderr
    # 5. With the production root as anchor, every file is Trusted and passes
    audited = _cli("audit", "--json", "--home", home, "--trust-anchors", root, out)
    rows = json.loads(audited.stdout)
    assert audited.returncode == 0, audited.stdout
    assert {(r["c2pa_state"], r["verdict"], r["development_signer"]) for r in rows} == {("Trusted", "pass", False)}
    assert all(r["trust_anchor"].startswith("Acme Ads GmbH Root CA") for r in rows)
    # 6. Another signer on the command line is refused by name
    other_root, other_chain, other_key = make_production_ca(tmp_path / "other", org="Other Org")
    refused = _cli("render", catalog, "--out", out, "--home", home, "--cert-chain", other_chain,
                   "--private-key", other_key)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"Error: {home} signs with {chain} (tessera credentials set); "
        f"got --cert-chain {other_chain} --private-key {other_key}"]
    assert os.stat(home).st_mode & 0o777 == 0o700
