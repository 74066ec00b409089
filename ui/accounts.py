"""Reviewer accounts of the browser workspace, stored in the Tessera home (ui/users.json, mode 0600).

A password is never stored: each account keeps a random 16-byte salt and the scrypt (RFC 7914) key
derived from the password with it, with the cost parameters used, so that they can be raised later
without invalidating existing accounts. A login with an unknown name costs the same key derivation
as one with a wrong password, so a response time does not tell which names exist.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from foundation.primitives import write_bytes_atomic

__all__ = ["MIN_PASSWORD", "UserError", "Users"]

SCHEMA = "tessera.ui.users/1"
MIN_PASSWORD = 10
_SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}          # about 32 MiB and a few tens of ms per login
_MAXMEM = 64 * 1024 * 1024
_DUMMY_SALT = bytes(16)


class UserError(ValueError):
    """An account that cannot be added or removed as asked (a bad name, a short password, a duplicate)."""


@dataclass(frozen=True)
class Account:
    name: str
    created_at: str


class Users:
    """The accounts file of one home; every change rewrites it atomically."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / "ui" / "users.json"

    def _read(self) -> dict[str, dict]:
        if not self.path.is_file():
            return {}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{self.path}: unreadable accounts file: {exc}") from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("users"), dict):
            raise UserError(f"{self.path}: not a Tessera accounts file (schema {SCHEMA})")
        return doc["users"]

    def _write(self, users: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps({"schema": SCHEMA, "users": users}, indent=2, ensure_ascii=False, sort_keys=True)
        write_bytes_atomic(self.path, text.encode("utf-8"), mode=0o600, fsync=True)

    def names(self) -> list[Account]:
        return [Account(name, entry.get("created_at", "")) for name, entry in sorted(self._read().items())]

    def add(self, name: str, password: str) -> Account:
        name = _checked_name(name)
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password of {name!r} is shorter than {MIN_PASSWORD} characters")
        users = self._read()
        if name in users:
            raise UserError(f"account {name!r} exists already in {self.path}")
        salt = secrets.token_bytes(16)
        users[name] = {"kdf": "scrypt", **_SCRYPT, "salt": salt.hex(), "key": _derive(password, salt, _SCRYPT).hex(),
                       "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self._write(users)
        return Account(name, users[name]["created_at"])

    def remove(self, name: str) -> None:
        users = self._read()
        if name not in users:
            raise UserError(f"no account {name!r} in {self.path}")
        del users[name]
        self._write(users)

    def exists(self, name: str) -> bool:
        return name in self._read()

    def check(self, name: str, password: str) -> bool:
        """True when `name` has an account and `password` is its password (constant-time compare)."""
        entry = self._read().get(name)
        if entry is None or entry.get("kdf") != "scrypt":
            _derive(password, _DUMMY_SALT, _SCRYPT)      # the same cost as a real check
            return False
        cost = {k: int(entry[k]) for k in ("n", "r", "p")}
        return hmac.compare_digest(_derive(password, bytes.fromhex(entry["salt"]), cost), bytes.fromhex(entry["key"]))


def _derive(password: str, salt: bytes, cost: dict[str, int]) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, maxmem=_MAXMEM, **cost)


def _checked_name(name: str) -> str:
    """An account name as the journal records it: 1-64 printable characters, no surrounding spaces."""
    if not isinstance(name, str) or not name.strip():
        raise UserError("an account needs a name")
    if name != name.strip() or len(name) > 64 or not name.isprintable():
        raise UserError(f"account name {name!r}: 1-64 printable characters without leading or trailing spaces")
    return name
