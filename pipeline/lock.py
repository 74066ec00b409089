"""One render at a time per home and output folder (and shard): an advisory lock the kernel frees
when the holding process ends, so a killed render never leaves a stale lock behind."""
from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from foundation.primitives import sha256_text

__all__ = ["RenderLocked", "render_lock", "run_scope"]


class RenderLocked(RuntimeError):
    """Another render holds the lock; the message names its pid, host and start time."""


def _scope(out_dir: Path, shard: tuple[int, int] | None) -> str:
    return f"{Path(out_dir).resolve()}|{'all' if shard is None else f'{shard[0]}/{shard[1]}'}"


def run_scope(home: Path, out_dir: Path, shard: tuple[int, int] | None = None) -> str:
    """The lock a render holds, as its runs row records it: host, home, output folder and shard.

    Whoever holds render_lock(home, out_dir, shard) knows that no other process on this host does,
    so a row still `running` with this scope is a run that was killed (see Ledger.close_interrupted).
    The host is part of it because the lock protects only within one host."""
    return f"{socket.gethostname()}|{Path(home).resolve()}|{_scope(out_dir, shard)}"


@contextmanager
def render_lock(home: Path, out_dir: Path, shard: tuple[int, int] | None = None) -> Iterator[Path]:
    """Hold the lock of (home, out_dir, shard) for the block; RenderLocked when another process has it.

    A lock on a file system shared by several hosts protects only within each host; across hosts
    the nightly run gives each shard to one worker."""
    scope = _scope(out_dir, shard)
    folder = Path(home) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"render-{sha256_text(scope)[:16]}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown process"
            raise RenderLocked(f"another render ({holder}) holds {path} for {scope}; wait for it to finish") from None
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {started}".encode(), 0)
        yield path
    finally:
        os.close(fd)    # closing the descriptor releases the lock
