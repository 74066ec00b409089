"""Dev credentials are created once with a C2PA-acceptable profile; bad credentials fail loudly."""
import stat
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from production_ca import make_production_ca
from provenance import CredentialError, SigningConfig, load_credentials, trust_anchors

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def test_dev_credentials_are_created_once_and_reused(signing_config, creds):
    folder = signing_config.home / "credentials"
    files = {p.name: p.read_bytes() for p in folder.glob("dev-*")}
    assert sorted(files) == ["dev-root.key", "dev-root.pem", "dev-signer.key", "dev-signer.pem"]
    again = load_credentials(signing_config)
    assert again == creds
    assert {p.name: p.read_bytes() for p in folder.glob("dev-*")} == files
    for key in ("dev-root.key", "dev-signer.key"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600
    assert creds.alg == "es256"
    assert creds.signer_name == "Tessera Development"
    assert creds.anchors_pem == files["dev-root.pem"]


def test_dev_leaf_has_the_profile_c2pa_validators_accept(creds):
    leaf = x509.load_pem_x509_certificates(creds.cert_chain_pem)[0]
    root = x509.load_pem_x509_certificate(creds.anchors_pem)
    leaf.verify_directly_issued_by(root)
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey) and leaf.public_key().curve.name == "secp256r1"
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING}
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    assert leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Tessera Development"
    assert timedelta(days=364) < leaf.not_valid_after_utc - leaf.not_valid_before_utc < timedelta(days=366)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert root.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert root.not_valid_after_utc - root.not_valid_before_utc > timedelta(days=3649)


def test_credentials_outside_their_validity_are_refused(creds, signing_config):
    with pytest.raises(CredentialError, match=r"dev-signer\.pem: certificate expired on"):
        load_credentials(signing_config, now=creds.not_after + timedelta(days=1))
    with pytest.raises(CredentialError, match=r"dev-signer\.pem: certificate not valid before"):
        load_credentials(signing_config, now=datetime(2001, 1, 1, tzinfo=timezone.utc))


def test_expired_production_leaf_is_refused(tmp_path):
    # A CA and leaf minted three years ago: the one-year leaf has long expired.
    old = load_credentials(SigningConfig(home=tmp_path / "old"), now=datetime.now(timezone.utc) - timedelta(days=3 * 365))
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(old.cert_chain_pem)
    key.write_bytes(old.private_key_pem)
    with pytest.raises(CredentialError, match=rf"{chain}: certificate expired on"):
        load_credentials(SigningConfig(home=tmp_path / "home", cert_chain=chain, private_key=key))


def test_production_chain_is_loaded_and_trusts_only_the_configured_anchors(tmp_path, creds, signing_config):
    chain, key, anchors = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "anchors.pem"
    chain.write_bytes(creds.cert_chain_pem)
    key.write_bytes(creds.private_key_pem)
    key.chmod(0o600)
    anchors.write_bytes(creds.anchors_pem)
    cfg = SigningConfig(home=tmp_path / "prod-home", cert_chain=chain, private_key=key,
                        tsa_url="http://tsa.example", trust_anchors=anchors)
    prod = load_credentials(cfg)
    assert (prod.cert_chain_pem, prod.private_key_pem, prod.alg) == (creds.cert_chain_pem, creds.private_key_pem, "es256")
    assert prod.tsa_url == "http://tsa.example"
    assert prod.anchors_pem == creds.anchors_pem
    assert not (tmp_path / "prod-home").exists()  # no dev CA minted next to a production chain
    no_anchors = load_credentials(SigningConfig(home=tmp_path / "prod-home", cert_chain=chain, private_key=key))
    assert no_anchors.anchors_pem == b""


@pytest.mark.parametrize("which", ["chain", "key"])
def test_garbled_pem_is_refused_naming_the_file(tmp_path, creds, which):
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(creds.cert_chain_pem)
    key.write_bytes(creds.private_key_pem)
    bad = chain if which == "chain" else key
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
                    if which == "chain" else b"garbage, not a key\n")
    with pytest.raises(CredentialError, match=rf"^{bad}: not "):
        load_credentials(SigningConfig(home=tmp_path, cert_chain=chain, private_key=key))


def test_key_that_does_not_match_the_certificate_is_refused(tmp_path, creds):
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(creds.cert_chain_pem)
    other = ec.generate_private_key(ec.SECP256R1())
    key.write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    with pytest.raises(CredentialError, match=rf"{key}: private key does not match the certificate in {chain}"):
        load_credentials(SigningConfig(home=tmp_path, cert_chain=chain, private_key=key))


def test_half_a_production_config_or_a_missing_file_is_refused(tmp_path, creds):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(creds.cert_chain_pem)
    with pytest.raises(CredentialError, match="cert_chain is set but private_key is not"):
        load_credentials(SigningConfig(home=tmp_path, cert_chain=chain))
    with pytest.raises(CredentialError, match="private_key is set but cert_chain is not"):
        load_credentials(SigningConfig(home=tmp_path, private_key=chain))
    missing = tmp_path / "nope.pem"
    with pytest.raises(CredentialError, match=rf"{missing}: cannot read"):
        load_credentials(SigningConfig(home=tmp_path, cert_chain=chain, private_key=missing))
    with pytest.raises(CredentialError, match=rf"{missing}: cannot read"):
        load_credentials(SigningConfig(home=tmp_path, trust_anchors=missing))


def test_trust_anchors_for_an_audit_never_mint_or_load_keys(tmp_path, creds, signing_config):
    assert trust_anchors(signing_config) == creds.anchors_pem
    fresh = SigningConfig(home=tmp_path / "fresh")
    assert trust_anchors(fresh) == b""
    assert not (tmp_path / "fresh").exists()
    anchors, _, _ = make_production_ca(tmp_path / "ca")
    prod = SigningConfig(home=signing_config.home, cert_chain=tmp_path / "c.pem", private_key=tmp_path / "k.pem",
                         trust_anchors=anchors)
    assert trust_anchors(prod) == anchors.read_bytes()  # the configured file only, not the dev root as well
    # a development root is trusted in its own home only, never as a configured anchor
    anchors.write_bytes(creds.anchors_pem)
    with pytest.raises(CredentialError, match="is a Tessera development root"):
        trust_anchors(prod)
    anchors.write_bytes(b"not a certificate")
    with pytest.raises(CredentialError, match=rf"{anchors}: not a PEM certificate list"):
        trust_anchors(prod)


def test_a_home_that_cannot_hold_credentials_is_refused(tmp_path):
    home = tmp_path / "home"
    home.write_text("a file, not a folder")
    with pytest.raises(CredentialError, match=rf"{home}/credentials: cannot create development credentials"):
        load_credentials(SigningConfig(home=home))


def test_a_production_key_readable_by_others_is_refused_unless_allowed(tmp_path):
    _, chain, key = make_production_ca(tmp_path / "ca")
    key.chmod(0o644)
    with pytest.raises(CredentialError, match=rf"{key}: private key is readable by others \(mode 644\); "
                                              r"chmod 600 it, or pass --allow-insecure-key"):
        load_credentials(SigningConfig(home=tmp_path / "home", cert_chain=chain, private_key=key))
    allowed = load_credentials(SigningConfig(home=tmp_path / "home", cert_chain=chain, private_key=key,
                                             allow_insecure_key=True))
    assert allowed.signer_name == "Acme Ads GmbH"
    key.chmod(0o600)
    assert load_credentials(SigningConfig(home=tmp_path / "home", cert_chain=chain, private_key=key)).alg == "es256"
