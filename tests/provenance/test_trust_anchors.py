"""Trust anchors are the audit's input: production roots read Trusted and are named; development
signers are labelled and trusted only in their own home."""
import json
import subprocess
import sys

import pytest

from production_ca import make_production_ca
from provenance import SigningConfig, load_credentials, sign_file
from provenance_media import ad_spec

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out


@pytest.fixture(scope="module")
def production(tmp_path_factory, media):
    """A clip signed by a production CA (root not Tessera's)."""
    folder = tmp_path_factory.mktemp("production")
    root, chain, key = make_production_ca(folder / "ca")
    creds = load_credentials(SigningConfig(home=folder / "unused-home", cert_chain=chain, private_key=key))
    sign_file(media / "clip.mp4", folder / "prod.mp4", ad_spec(media / "product.jpg"), creds)
    return folder, root


def _audit(home, *args):
    result = subprocess.run([sys.executable, "-m", "flows.cli", "audit", "--json", "--home", str(home), *map(str, args)],
                            capture_output=True, text=True, timeout=300)
    return result, (json.loads(result.stdout) if result.stdout.startswith("[") else None)


def test_a_production_file_reads_trusted_with_its_root_as_anchor(production, tmp_path):
    folder, root = production
    result, [row] = _audit(tmp_path, folder / "prod.mp4", "--trust-anchors", root)
    assert result.returncode == 0, result.stderr
    assert (row["c2pa_state"], row["development_signer"]) == ("Trusted", False)
    # trusted; the only remark is that this home's ledger never recorded the file
    assert [p for p in row["problems"] if "ledger has no record" not in p] == []
    assert row["trust_anchor"].startswith("Acme Ads GmbH Root CA (sha256 ")
    assert row["signer"] == "Acme Ads GmbH"


def test_without_its_anchor_a_production_file_warns(production, tmp_path):
    folder, _ = production
    result, [row] = _audit(tmp_path, folder / "prod.mp4")
    assert (row["c2pa_state"], row["verdict"], row["trust_anchor"]) == ("Valid", "warn", None)
    assert row["problems"][0] == "signingCredential.untrusted: signer not in trust list"


def test_the_home_setting_is_used_and_the_table_names_the_anchor(production, tmp_path):
    folder, root = production
    cli = [sys.executable, "-m", "flows.cli"]
    setup = subprocess.run([*cli, "trust", "set", "--anchors", str(root), "--home", str(tmp_path)],
                           capture_output=True, text=True, timeout=120)
    assert setup.returncode == 0, setup.stderr
    assert "trusted: Acme Ads GmbH Root CA" in setup.stdout
    table = subprocess.run([*cli, "audit", "--home", str(tmp_path), str(folder / "prod.mp4")],
                           capture_output=True, text=True, timeout=300).stdout
    assert "Trusted" in table and "Valid" not in table
    assert "signed by Acme Ads GmbH, trusted by anchor Acme Ads GmbH Root CA (sha256 " in table


def test_the_allowed_ekus_file_is_checked_and_used(production, tmp_path):
    # c2pa 0.38 takes trust_config as EKUs allowed in addition to its own certificate profile:
    # a list without the leaf's EKUs did not make it untrusted in our trial, so only this is asserted
    folder, root = production
    ekus = tmp_path / "ekus.cfg"
    ekus.write_text("# documentSigning\n1.3.6.1.5.5.7.3.36\n")
    _, [row] = _audit(tmp_path, folder / "prod.mp4", "--trust-anchors", root, "--trust-config", ekus)
    assert row["c2pa_state"] == "Trusted"
    ekus.write_text("not-an-oid\n")
    result, _ = _audit(tmp_path, folder / "prod.mp4", "--trust-anchors", root, "--trust-config", ekus)
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: {ekus}:1: 'not-an-oid' is not a dotted EKU OID like 1.3.6.1.5.5.7.3.4"


def test_a_development_file_is_trusted_in_its_own_home_only(signed_mp4, signing_config, tmp_path):
    _, [own] = _audit(signing_config.home, signed_mp4)
    assert (own["c2pa_state"], own["development_signer"]) == ("Trusted", True)
    assert own["trust_anchor"].startswith("Tessera Development Root CA")
    _, [other] = _audit(tmp_path, signed_mp4)
    assert (other["c2pa_state"], other["verdict"], other["development_signer"]) == ("Valid", "warn", True)
    assert "development signer: trusted only in the Tessera home that made it" in other["problems"]


def test_another_homes_development_root_is_refused_as_an_anchor(signed_mp4, signing_config, tmp_path):
    root = signing_config.home / "credentials" / "dev-root.pem"
    result, _ = _audit(tmp_path, signed_mp4, "--trust-anchors", root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {root}: Tessera Development Root CA (sha256 {result.stderr.split('sha256 ')[1][:16]}) is a "
        f"Tessera development root; development signers are trusted only in their own home"]
