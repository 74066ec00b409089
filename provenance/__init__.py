"""Provenance: signing credentials, C2PA manifests (build, sign, read)."""
from typing import TYPE_CHECKING

from foundation.lazy import lazy_exports

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
    "TrustAnchor",
    "TrustList",
    "is_development_signer",
    "load_credentials",
    "signer_chain",
    "read_c2pa",
    "sign_file",
    "trust_anchors",
    "trust_list",
    "watermark_key",
]

if TYPE_CHECKING:   # the public names and their modules; imported on first use (foundation.lazy)
    from provenance.credentials import (
        CredentialError,
        is_development_signer,
        load_credentials,
        signer_chain,
        trust_anchors,
        trust_list,
        watermark_key,
    )
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
        TrustAnchor,
        TrustList,
    )

__getattr__, __dir__ = lazy_exports(__name__)
