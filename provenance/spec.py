"""Records passed between the provenance stages and to the rest of the pipeline."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# Labels of the standard actions assertion (v1 and v2); repeats carry a "__N" suffix.
ACTIONS_LABELS = ("c2pa.actions", "c2pa.actions.v2")


@dataclass(frozen=True)
class SigningConfig:
    """Where signing credentials come from. Without cert_chain/private_key a development CA
    and leaf certificate are created under home on first use (never inside the repository)."""
    home: Path                          # e.g. ~/.tessera
    cert_chain: Path | None = None      # production PEM chain, leaf first
    private_key: Path | None = None     # production PEM private key
    tsa_url: str | None = None          # RFC 3161 time-stamp authority
    trust_anchors: Path | None = None   # extra PEM anchors the reader trusts (production root)
    trust_config: Path | None = None    # allowed EKUs, one OID a line (c2pa trust_config format); None: ALLOWED_EKUS
    allow_insecure_key: bool = False    # sign with a production key file others can read (refused otherwise)


@dataclass(frozen=True)
class TrustAnchor:
    name: str                           # subject CN (else O) and the start of its SHA-256 fingerprint
    pem: bytes
    development: bool                   # this home's development root (trusted here and nowhere else)


@dataclass(frozen=True)
class TrustList:
    """What an audit trusts: its anchors (each named) and the EKUs a signing certificate may carry."""
    anchors: tuple[TrustAnchor, ...] = ()
    ekus: tuple[str, ...] | None = None  # None: the reader's ALLOWED_EKUS

    @property
    def pem(self) -> bytes:
        return b"".join(a.pem for a in self.anchors)


@dataclass(frozen=True)
class Credentials:
    cert_chain_pem: bytes
    private_key_pem: bytes
    alg: str                            # c2pa signing algorithm name, e.g. "es256"
    tsa_url: str | None
    anchors_pem: bytes                  # every root our reader trusts
    signer_name: str                    # leaf subject common name / organisation
    not_after: datetime


@dataclass(frozen=True)
class Action:
    action: str                         # e.g. "c2pa.created", "c2pa.edited", "c2pa.placed"
    software_agent: str
    digital_source_type: str | None = None
    parameters_json: str = "{}"


@dataclass(frozen=True)
class Ingredient:
    path: Path
    title: str
    relationship: str                   # "parentOf", "componentOf" or "inputTo"


@dataclass(frozen=True)
class ModelIngredient:
    """An AI model used as input: named in the manifest, with no file of its own."""
    title: str                          # model id, e.g. "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers"
    version: str                        # pinned revision or the local folder's content hash
    data_type: str = "c2pa.types.model.pytorch"


@dataclass(frozen=True)
class ManifestSpec:
    title: str
    asset_id: str
    digital_source_type: str | None     # None: unknown (a photo of unknown provenance opened): no claim
    actions: tuple[Action, ...]
    ingredients: tuple[Ingredient, ...] = ()
    assertions: tuple[tuple[str, str], ...] = ()   # (label, JSON text) extra assertions
    models: tuple[ModelIngredient, ...] = ()        # AI models used as input (relationship inputTo)


@dataclass(frozen=True)
class SignedManifest:
    label: str                          # active manifest label (urn:c2pa:...)
    manifest_json: str                  # the reader's JSON of the signed file


@dataclass(frozen=True)
class ReadAction:
    """One action of a signed manifest as the reader reports it (the read-back side of Action)."""
    action: str                         # e.g. "c2pa.created"
    digital_source_type: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadIngredient:
    """One ingredient of a signed manifest as the reader reports it."""
    title: str
    relationship: str                   # parentOf, componentOf, inputTo
    has_manifest: bool                  # the ingredient carried content credentials of its own


@dataclass(frozen=True)
class C2paReport:
    """What reading one file's manifest store found. provenance.reader parses the store once and keeps
    the active manifest's assertions here: read them with `assertion(label)` and `actions`, never by
    walking manifest_json again."""
    state: str                          # "Trusted", "Valid", "Invalid", "absent" or "error"
    codes: tuple[str, ...]              # failure / informational status codes
    active_label: str | None = None
    digital_source_type: str | None = None
    signer: str | None = None
    asset_id: str | None = None         # our asset id when the manifest carries it
    manifest_json: str | None = None    # the reader's JSON, as read (the ledger stores it)
    error: str | None = None
    # (label, data) of each assertion of the active manifest, in manifest order; derived from
    # manifest_json, so left out of equality
    assertions: tuple[tuple[str, Any], ...] = field(default=(), compare=False, repr=False)
    signed_at: str | None = field(default=None, compare=False)      # the signature time-stamp's time; None: none
    ingredients: tuple[ReadIngredient, ...] = field(default=(), compare=False, repr=False)

    def assertion(self, label: str) -> dict[str, Any] | None:
        """The data of the active manifest's assertion `label`, or None when there is none or its
        data is not a JSON object. Shared with the report: read it, do not change it."""
        data = next((d for name, d in self.assertions if name == label), None)
        return data if isinstance(data, dict) else None

    @property
    def actions(self) -> tuple[ReadAction, ...]:
        """Every action of the active manifest's actions assertions, in manifest order."""
        out = []
        for label, data in self.assertions:
            if label.split("__")[0] not in ACTIONS_LABELS or not isinstance(data, dict):
                continue
            for a in data.get("actions", []):
                if isinstance(a, dict):
                    dst = a.get("digitalSourceType")
                    out.append(ReadAction(action=str(a.get("action", "")), digital_source_type=str(dst) if dst else None,
                                          parameters=a.get("parameters") or {}))
        return tuple(out)
