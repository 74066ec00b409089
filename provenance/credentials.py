"""Signing credentials: load a production chain, or create and reuse a development CA.

Without `cert_chain`/`private_key` a development CA (self-signed root) and a leaf
signing certificate are created once under `<home>/credentials/` and reused. The
certificate profile is the one C2PA validators (c2pa-rs) accept: EC P-256 (es256),
leaf CA:false, keyUsage digitalSignature (critical), extendedKeyUsage emailProtection
+ documentSigning, SubjectKeyIdentifier, AuthorityKeyIdentifier, an organisation name.

Every problem (expired or not-yet-valid leaf, unreadable or garbled PEM, a key that
does not match the certificate, half a configuration) raises `CredentialError`
naming the file and the problem.
"""
from __future__ import annotations

import fcntl
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from provenance.spec import Credentials, SigningConfig, TrustAnchor, TrustList
from foundation.primitives import write_bytes_atomic

__all__ = ["CredentialError", "is_development_signer", "load_credentials", "signer_chain", "trust_anchors",
           "trust_list", "trust_list_from_pem"]

DEV_ORG = "Tessera Development"
DEV_CA_VALIDITY = timedelta(days=3650)
DEV_LEAF_VALIDITY = timedelta(days=365)
# id-kp-documentSigning (RFC 9336); not yet named in cryptography's ExtendedKeyUsageOID.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
# Clock skew allowance for a freshly created certificate.
BACKDATE = timedelta(minutes=5)


class CredentialError(RuntimeError):
    """Signing credentials are missing, unreadable, mismatched or outside their validity."""


def load_credentials(cfg: SigningConfig, *, now: datetime | None = None) -> Credentials:
    """Return the credentials to sign with: the configured production chain, or the dev CA."""
    now = _utc(now or datetime.now(timezone.utc))
    if (cfg.cert_chain is None) != (cfg.private_key is None):
        given, missing = ("cert_chain", "private_key") if cfg.cert_chain else ("private_key", "cert_chain")
        raise CredentialError(f"{given} is set but {missing} is not: configure both or neither")
    extra_anchors = _read_anchors(cfg.trust_anchors) if cfg.trust_anchors else b""
    if cfg.cert_chain is not None and cfg.private_key is not None:
        chain_path, key_path = cfg.cert_chain, cfg.private_key
        anchors = extra_anchors  # never trust the dev root when a production chain is configured
        credentials = _load_pair(chain_path, key_path, anchors, cfg.tsa_url, now)
        if not cfg.allow_insecure_key:
            _check_private(key_path)   # after the pair checks, so a bad pair is named first
        return credentials
    else:
        folder = cfg.home / "credentials"
        try:
            chain_path, key_path, root_path = _ensure_dev_credentials(folder, now)
        except OSError as e:
            raise CredentialError(f"{folder}: cannot create development credentials ({e.strerror or e})") from e
        anchors = _read_anchors(root_path) + extra_anchors
    return _load_pair(chain_path, key_path, anchors, cfg.tsa_url, now)


def signer_chain(cfg: SigningConfig) -> bytes | None:
    """The signing certificate chain (PEM) this home signs with, read without its private key and
    never created: what a verifier (the audit) checks the journal's signed head against. None when
    the home has no signer yet."""
    path = cfg.cert_chain if cfg.cert_chain is not None else cfg.home / "credentials" / "dev-signer.pem"
    return _read(path) if path.is_file() else None


def trust_anchors(cfg: SigningConfig) -> bytes:
    """Roots an audit trusts, as one PEM bundle (see trust_list)."""
    return trust_list(cfg).pem


def trust_list(cfg: SigningConfig) -> TrustList:
    """What an audit trusts, without loading (or minting) signing keys: the configured anchors
    (a PEM bundle, the C2PA trust list format) and EKUs, plus this home's development root when no
    production chain is configured and one was ever created. A development root among the
    configured anchors is refused: development signers are trusted in their own home only."""
    anchors: list[TrustAnchor] = []
    dev_root = cfg.home / "credentials" / "dev-root.pem"
    if cfg.cert_chain is None and dev_root.exists():
        anchors += _named_anchors(dev_root, development=True)
    if cfg.trust_anchors:
        configured = _named_anchors(cfg.trust_anchors, development=False)
        for anchor, cert in zip(configured, x509.load_pem_x509_certificates(_read_anchors(cfg.trust_anchors))):
            if _is_development(cert):
                raise CredentialError(f"{cfg.trust_anchors}: {anchor.name} is a Tessera development root; "
                                      f"development signers are trusted only in their own home")
        anchors += configured
    ekus = _read_ekus(cfg.trust_config) if cfg.trust_config else None
    return TrustList(anchors=tuple(anchors), ekus=ekus)


def trust_list_from_pem(pem: bytes | None, ekus: tuple[str, ...] | None = None) -> TrustList:
    """A trust list from a PEM bundle the caller already trusts (development roots flagged as such)."""
    if not pem:
        return TrustList(ekus=ekus)
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise CredentialError(f"trust anchors: not a PEM certificate list ({e})") from e
    return TrustList(anchors=tuple(_anchor(c, development=_is_development(c)) for c in certs), ekus=ekus)


def is_development_signer(signer: str | None) -> bool:
    """The name c2pa reports for a certificate our development CA made (any home's)."""
    return signer == DEV_ORG


def _is_development(cert: x509.Certificate) -> bool:
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return any(a.value == DEV_ORG for a in orgs)


def _named_anchors(path: Path, *, development: bool) -> list[TrustAnchor]:
    return [_anchor(cert, development=development) for cert in x509.load_pem_x509_certificates(_read_anchors(path))]


def _anchor(cert: x509.Certificate, *, development: bool) -> TrustAnchor:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    label = str(cns[0].value) if cns else _signer_name(cert)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    return TrustAnchor(name=f"{label} (sha256 {fingerprint[:16]})",
                       pem=cert.public_bytes(serialization.Encoding.PEM), development=development)


def _read_ekus(path: Path) -> tuple[str, ...]:
    """OIDs one a line; '#' starts a comment (c2pa-rs's store.cfg format)."""
    oids = []
    for number, line in enumerate(_read(path).decode("utf-8", "replace").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not all(part.isdigit() for part in text.split(".")) or text.count(".") < 1:
            raise CredentialError(f"{path}:{number}: {text!r} is not a dotted EKU OID like 1.3.6.1.5.5.7.3.4")
        oids.append(text)
    if not oids:
        raise CredentialError(f"{path}: lists no EKU OID (one a line, e.g. 1.3.6.1.5.5.7.3.4)")
    return tuple(oids)


def watermark_key(cfg: SigningConfig, *, create: bool = True) -> bytes | None:
    """The secret key of our watermark (32 random bytes under the home, made on first use).

    With create=False (the audit) a home that never marked anything returns None.
    """
    folder = cfg.home / "credentials"
    path = folder / "watermark.key"
    if not path.exists():
        if not create:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                write_bytes_atomic(path, os.urandom(32), mode=0o600, fsync=True)
    key = _read(path)
    if len(key) != 32:
        raise CredentialError(f"{path}: watermark key must be 32 bytes, found {len(key)}")
    return key


def _load_pair(chain_path: Path, key_path: Path, anchors: bytes, tsa_url: str | None,
               now: datetime) -> Credentials:
    chain_pem = _read(chain_path)
    key_pem = _read(key_path)
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as e:
        raise CredentialError(f"{chain_path}: not a PEM certificate chain ({e})") from e
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise CredentialError(f"{key_path}: not an unencrypted PEM private key ({e})") from e
    leaf = chain[0]
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        raise CredentialError(f"{key_path}: private key does not match the certificate in {chain_path}")
    if now < leaf.not_valid_before_utc:
        raise CredentialError(f"{chain_path}: certificate not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M}Z")
    if now > leaf.not_valid_after_utc:
        raise CredentialError(f"{chain_path}: certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M}Z")
    return Credentials(
        cert_chain_pem=chain_pem,
        private_key_pem=key_pem,
        alg=_c2pa_alg(key, key_path),
        tsa_url=tsa_url,
        anchors_pem=anchors,
        signer_name=_signer_name(leaf),
        not_after=leaf.not_valid_after_utc,
    )


def _ensure_dev_credentials(folder: Path, now: datetime) -> tuple[Path, Path, Path]:
    """Create the dev CA and leaf once; a lock keeps two processes from minting two pairs."""
    root_cert, root_key = folder / "dev-root.pem", folder / "dev-root.key"
    leaf_cert, leaf_key = folder / "dev-signer.pem", folder / "dev-signer.key"
    if leaf_cert.exists() and leaf_key.exists() and root_cert.exists():
        return leaf_cert, leaf_key, root_cert
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root_cert.exists() and root_key.exists()):
            ca_key = ec.generate_private_key(ec.SECP256R1())
            ca = _make_root(ca_key, now)
            write_bytes_atomic(root_key, _key_pem(ca_key), mode=0o600, fsync=True)
            write_bytes_atomic(root_cert, ca.public_bytes(serialization.Encoding.PEM), fsync=True)
        if not (leaf_cert.exists() and leaf_key.exists()):
            ca = _load_cert(root_cert)
            ca_key = _load_key(root_key)
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _make_leaf(key, ca, ca_key, now)
            # Key first, certificate last: the certificate's presence marks a complete pair.
            write_bytes_atomic(leaf_key, _key_pem(key), mode=0o600, fsync=True)
            write_bytes_atomic(leaf_cert, cert.public_bytes(serialization.Encoding.PEM), fsync=True)
    return leaf_cert, leaf_key, root_cert


def _make_root(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORG),
        x509.NameAttribute(NameOID.COMMON_NAME, "Tessera Development Root CA"),
    ])
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + DEV_CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _make_leaf(key: ec.EllipticCurvePrivateKey, ca: x509.Certificate,
               ca_key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORG),
        x509.NameAttribute(NameOID.COMMON_NAME, "Tessera Development Signer"),
    ])
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + DEV_LEAF_VALIDITY, ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


def _c2pa_alg(key: object, key_path: Path) -> str:
    """c2pa algorithm name for a key; RSA signs with PSS because C2PA forbids PKCS#1 v1.5."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in algs:
            return algs[key.curve.name]
        raise CredentialError(f"{key_path}: EC curve {key.curve.name} is not allowed by C2PA")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise CredentialError(f"{key_path}: unsupported key type {type(key).__name__}")


def _signer_name(cert: x509.Certificate) -> str:
    """Organisation, else common name: the same name c2pa reports as the signature issuer."""
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        attrs = cert.subject.get_attributes_for_oid(oid)
        if attrs:
            return str(attrs[0].value)
    return cert.subject.rfc4514_string()


def _check_private(key_path: Path) -> None:
    """A production key readable by group or others is refused: anyone who reads it signs as us."""
    try:
        mode = key_path.stat().st_mode
    except OSError as e:
        raise CredentialError(f"{key_path}: cannot read ({e.strerror or e})") from e
    if mode & 0o044:
        raise CredentialError(f"{key_path}: private key is readable by others (mode {mode & 0o777:o}); "
                              f"chmod 600 it, or pass --allow-insecure-key")


def _read_anchors(path: Path) -> bytes:
    pem = _read(path)
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise CredentialError(f"{path}: not a PEM certificate list ({e})") from e
    return pem if pem.endswith(b"\n") else pem + b"\n"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CredentialError(f"{path}: cannot read ({e.strerror or e})") from e


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError as e:
        raise CredentialError(f"{path}: not a PEM certificate ({e})") from e


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as e:
        raise CredentialError(f"{path}: not an unencrypted PEM private key ({e})") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CredentialError(f"{path}: dev CA key must be an EC key, got {type(key).__name__}")
    return key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _public_der(public_key: object) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                                   serialization.PublicFormat.SubjectPublicKeyInfo)



def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
