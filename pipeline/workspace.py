"""The workspace of one run: everything a door opens once and every step shares.

Built from the run's Settings at the entry point (CLI command, Prefect flow, review
approval): one ledger engine, the authorship journal, the signing credentials, the
watermark key, the likeness and protected-works registries, the face models, and the
review and quarantine folders. Members are opened on first use, so an audit never mints
signing keys and a render that skips everything never loads the face models.
"""
from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.journal import Journal
from compliance.likeness import FaceModels
from pipeline.settings import Settings
from provenance import Credentials, TrustList, load_credentials, signer_chain, trust_list, watermark_key
from provenance.ledger import Ledger
from provenance.soft_binding import SoftBindingStore

if TYPE_CHECKING:  # the registries' checks (imagehash, PIL) load with the first variant that needs them
    from compliance.assess import Registries

__all__ = ["Workspace"]


class Workspace:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ledger = Ledger(settings.ledger_url)      # the run's one engine (schema checked once)
        self._lock = threading.RLock()   # variant threads share the lazy members (one may open another)

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def review_dir(self) -> Path:
        return self.settings.review_dir

    @property
    def quarantine_dir(self) -> Path:
        return self.settings.quarantine_dir

    @property
    def candidates_dir(self) -> Path:
        """Each product's takes and contact sheet, one folder per candidate set."""
        return self.settings.home / "candidates"

    @property
    def staging_dir(self) -> Path:
        """Unsigned encodes between compose and sign (never inside the output folder)."""
        return self.settings.home / "cache" / "staging"

    def _once(self, name: str, make):
        with self._lock:
            if name not in self.__dict__:
                self.__dict__[name] = make()
            return self.__dict__[name]

    @property
    def credentials(self) -> Credentials:
        """The signing credentials (development ones are created in the home on first use)."""
        return self._once("_credentials", lambda: load_credentials(self.settings.signing))

    @property
    def journal(self) -> Journal:
        return self._once("_journal", lambda: Journal.from_credentials(self.ledger.engine, self.credentials))

    @property
    def verifying_journal(self) -> Journal | None:
        """The journal checked against this home's signer certificate, without loading (or creating)
        the private key: what an audit verifies with. None when the home has no signer yet."""
        def make() -> Journal | None:
            if "_journal" in self.__dict__:
                return self.journal
            chain = signer_chain(self.settings.signing)
            return Journal.for_verifying(self.ledger.engine, chain) if chain is not None else None
        return self._once("_verifying_journal", make)

    @property
    def watermark_key(self) -> bytes:
        """The key that marks variants (created with the credentials on first render)."""
        return self._once("_wm_key", lambda: watermark_key(self.settings.signing))

    @cached_property
    def existing_watermark_key(self) -> bytes | None:
        """The watermark key if this home has one; an audit never creates it."""
        return watermark_key(self.settings.signing, create=False)

    @cached_property
    def trust_anchors(self) -> bytes:
        return self.trust_list.pem

    @cached_property
    def trust_list(self) -> TrustList:
        """The anchors (named) and EKUs an audit trusts (CredentialError for a bad anchor file)."""
        return trust_list(self.settings.signing)

    @property
    def registries(self) -> Registries:
        from compliance.assess import open_registries

        return self._once("_registries", lambda: open_registries(self.ledger.engine))

    @property
    def soft_bindings(self) -> SoftBindingStore:
        return self._once("_soft", lambda: SoftBindingStore(self.ledger.engine))

    @property
    def face_models(self) -> FaceModels:
        """dlib's models, loaded once (LikenessModelError: nothing could be checked, the run fails)."""
        return self._once("_faces", FaceModels.load)
