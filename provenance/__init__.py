"""Provenance: signing credentials, C2PA manifests (build, sign, read)."""
from provenance.credentials import CredentialError, load_credentials, trust_anchors, watermark_key
from provenance.manifest import SigningError, sign_file
from provenance.reader import read_c2pa
from provenance.spec import (
    Action,
    C2paReport,
    Credentials,
    Ingredient,
    ManifestSpec,
    ModelIngredient,
    ReadAction,
    SignedManifest,
    SigningConfig,
)

__all__ = [
    "Action",
    "C2paReport",
    "CredentialError",
    "Credentials",
    "Ingredient",
    "ManifestSpec",
    "ModelIngredient",
    "ReadAction",
    "SignedManifest",
    "SigningConfig",
    "SigningError",
    "load_credentials",
    "read_c2pa",
    "sign_file",
    "trust_anchors",
    "watermark_key",
]
