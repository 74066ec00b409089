"""The Tessera home on disk: where it must exist, who may read it.

The home holds the ledger (face embeddings included), the journal, the watermark key and, in
development, signing keys: it is created 0700 and its SQLite databases 0600, whatever the umask.
An audit never creates a home: a mistyped --home is an error, not a fresh empty ledger that
makes every file look unknown.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from foundation.primitives import write_bytes_atomic

__all__ = ["WITHDRAWAL_MODES", "HomeConfig", "HomeError", "open_home", "read_config", "write_config"]


class HomeError(RuntimeError):
    """The home is missing (where it must exist), not a folder, or cannot be written."""


def open_home(home: Path, *, create: bool) -> Path:
    """The home, checked (and with create=True made 0700 when missing); HomeError naming the problem."""
    home = Path(home)
    # 1. Exists, or is made private from the start (mkdir's mode is applied under the umask: chmod too).
    if not home.exists():
        if not create:
            raise HomeError(f"no Tessera home at {home} (a mistyped --home? a render creates one)")
        try:
            home.mkdir(parents=True, mode=0o700)
            os.chmod(home, 0o700)
        except OSError as e:
            raise HomeError(f"cannot create the Tessera home {home}: {e.strerror or e}") from None
    # 2. A folder we can write: the ledger and journal are written even by an audit (schema upgrade, WAL).
    if not home.is_dir():
        raise HomeError(f"the Tessera home {home} is not a folder")
    if not os.access(home, os.W_OK | os.X_OK):
        raise HomeError(f"the Tessera home {home} is read-only (the ledger and journal are written there)")
    return home


CONFIG_NAME = "config.json"
# What `tessera recheck` does with the file of an asset it withdraws: move it out of the output folder into
# the home's quarantine (the default: a withdrawn file stops being served from where it was published), or
# leave it in place and add it to the home's takedown list for whoever unpublishes it.
WITHDRAWAL_MODES = ("quarantine", "takedown-list")


@dataclass(frozen=True)
class HomeConfig:
    """Settings a home keeps between commands (`tessera trust set`, `tessera credentials set`):
    paths, never key material. With cert_chain set the home signs with that production chain,
    in every command that signs, and never creates development keys."""
    trust_anchors: Path | None = None    # PEM bundle of roots an audit trusts (C2PA trust list format)
    trust_config: Path | None = None     # allowed EKUs, one OID a line
    cert_chain: Path | None = None       # production PEM chain, leaf first
    private_key: Path | None = None      # its private key: a path outside the home
    tsa_url: str | None = None
    allow_insecure_key: bool = False     # recorded when set with --allow-insecure-key
    withdrawal: str = WITHDRAWAL_MODES[0]   # one of WITHDRAWAL_MODES (`tessera withdrawal set`)

    def to_dict(self) -> dict[str, str | bool | None]:
        return {k: (v if isinstance(v, (bool, str)) or v is None else str(v)) for k, v in asdict(self).items()}


def read_config(home: Path) -> HomeConfig:
    """The home's configuration; an absent file is the empty configuration, a garbled one an error."""
    path = Path(home) / CONFIG_NAME
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return HomeConfig()
    except (OSError, ValueError) as e:
        raise HomeError(f"{path}: not a readable Tessera home configuration ({e})") from None
    if not isinstance(doc, dict):
        raise HomeError(f"{path}: expected a JSON object of settings")
    unknown = set(doc) - {f.name for f in fields(HomeConfig)}
    if unknown:
        raise HomeError(f"{path}: unknown settings {sorted(unknown)}")
    paths = {"trust_anchors", "trust_config", "cert_chain", "private_key"}
    values: dict[str, Any] = {k: (Path(v) if k in paths else v) for k, v in doc.items() if v is not None}
    if values.get("withdrawal", WITHDRAWAL_MODES[0]) not in WITHDRAWAL_MODES:
        raise HomeError(f"{path}: withdrawal must be one of {', '.join(WITHDRAWAL_MODES)}, "
                        f"got {values['withdrawal']!r}")
    return HomeConfig(**values)


def write_config(home: Path, config: HomeConfig) -> Path:
    """Store the configuration (0600, atomically) and return its path."""
    path = Path(home) / CONFIG_NAME
    write_bytes_atomic(path, (json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n").encode(),
                       mode=0o600, fsync=True)
    return path
