"""The one settings object of a run, built at the entry point and passed down."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from compliance.rules import DEFAULT_RULES_DIR
from generation.plan import RenderOptions
from pipeline.home import read_config
from provenance.credentials import CredentialError
from provenance.spec import SigningConfig


@dataclass(frozen=True)
class Settings:
    home: Path                      # Tessera home: credentials, ledger, clip cache
    ledger_url: str
    signing: SigningConfig
    options: RenderOptions = field(default_factory=RenderOptions)
    workers: int = 2
    as_of: date = field(default_factory=date.today)
    rules_dir: Path | None = None   # --rules-dir: the user's rule profiles, next to the package's
    withdrawal: str = "quarantine"  # what recheck does with a withdrawn file (pipeline.home.WITHDRAWAL_MODES)

    @property
    def rules_dirs(self) -> tuple[Path, ...]:
        """Where rule profiles are read from: the package's, the home's rules/ folder when there is one,
        then --rules-dir. The same schema everywhere; a profile code defined twice is an error."""
        dirs = [DEFAULT_RULES_DIR]
        if (self.home / "rules").is_dir():
            dirs.append(self.home / "rules")
        if self.rules_dir is not None and Path(self.rules_dir).resolve() not in [d.resolve() for d in dirs]:
            dirs.append(Path(self.rules_dir))
        return tuple(dirs)

    @property
    def clip_cache(self) -> Path:
        return self.home / "cache" / "clips"

    @property
    def review_dir(self) -> Path:
        """Variants the compliance gate holds for a person's decision (unsigned)."""
        return self.home / "review"

    @property
    def quarantine_dir(self) -> Path:
        """Variants the compliance gate blocked (unsigned), each with a report of why."""
        return self.home / "quarantine"

    @property
    def withdrawn_dir(self) -> Path:
        """Files of published assets that tessera recheck withdrew (withdrawal "quarantine")."""
        return self.quarantine_dir / "withdrawn"

    @property
    def takedown_list(self) -> Path:
        """Withdrawn files left in place for someone to take down (withdrawal "takedown-list")."""
        return self.home / "takedown.json"

    @classmethod
    def build(cls, *, home: Path, ledger_url: str | None = None, cert_chain: Path | None = None,
              private_key: Path | None = None, tsa_url: str | None = None, trust_anchors: Path | None = None,
              trust_config: Path | None = None, allow_insecure_key: bool = False, **kwargs) -> "Settings":
        home = Path(home).expanduser().resolve()
        # One signer per home: a home configured for production (tessera credentials set) signs with
        # that chain in every command; credentials given explicitly must be the same ones.
        config = read_config(home)
        if config.cert_chain is not None:
            given = (cert_chain, private_key)
            if given != (None, None) and tuple(Path(p).resolve() if p else None for p in given) != (
                    config.cert_chain, config.private_key):
                raise CredentialError(f"{home} signs with {config.cert_chain} (tessera credentials set); "
                                      f"got --cert-chain {cert_chain} --private-key {private_key}")
            cert_chain, private_key = config.cert_chain, config.private_key
            tsa_url = tsa_url or config.tsa_url
            allow_insecure_key = allow_insecure_key or config.allow_insecure_key
        signing = SigningConfig(home=home, cert_chain=cert_chain, private_key=private_key,
                                tsa_url=tsa_url, trust_anchors=trust_anchors, trust_config=trust_config,
                                allow_insecure_key=allow_insecure_key)
        kwargs.setdefault("withdrawal", config.withdrawal)
        return cls(home=home, ledger_url=ledger_url or f"sqlite:///{home / 'ledger.sqlite'}",
                   signing=signing, **kwargs)
