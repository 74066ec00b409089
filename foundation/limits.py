"""Run one piece of work in a forked child with a wall-clock limit and a memory limit.

Why a child process: the work may sit in native code we cannot interrupt (the C2PA reader
parsing a hostile box tree, ffmpeg decoding a corrupt stream, a file swapped for a FIFO between
listing and opening). A child can be killed, with every process it started (it leads its own
process group), and its memory capped with RLIMIT_AS, without touching the caller.

The child is forked, so `work` may be any callable (closures over open ledgers included); its
result comes back pickled over a pipe. `child_init` runs first in the child, e.g. to make a
database engine open its own connections instead of sharing the parent's.
"""
from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Limits", "LimitedResult", "run_limited"]

# Exit status of a child whose result could not be sent (unpicklable result, broken pipe).
_SEND_FAILED = 70


@dataclass(frozen=True)
class Limits:
    seconds: float = 120.0              # wall-clock time one piece of work may take
    memory_mb: int | None = 4096        # address space it may add to what the process already maps; None: no cap

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"time limit must be positive seconds, got {self.seconds!r}")
        if self.memory_mb is not None and self.memory_mb < 1:
            raise ValueError(f"memory limit must be at least 1 MiB, got {self.memory_mb!r}")


@dataclass(frozen=True)
class LimitedResult:
    value: Any = None                   # what work() returned (only when ok)
    ok: bool = False
    problem: str | None = None          # why there is no value, in plain words


def run_limited(work: Callable[[], Any], limits: Limits,
                child_init: Callable[[], None] | None = None) -> LimitedResult:
    """work() in a child: its value, or a problem naming the limit exceeded or the error raised."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:   # child: never returns
        os.close(read_fd)
        _child(work, limits, child_init, write_fd)
    os.close(write_fd)
    try:
        os.setpgid(pid, pid)      # also done in the child; whichever runs first wins the race
    except OSError:
        pass
    deadline = time.monotonic() + limits.seconds
    data = bytearray()
    timed_out = False
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([pipe], [], [], left)
            if not ready:
                continue
            chunk = pipe.read(1 << 16)
            if not chunk:
                break
            data += chunk
    if timed_out:
        _kill_group(pid)
    _, status = os.waitpid(pid, 0)
    _kill_group(pid)              # a grandchild (ffmpeg) the child left behind
    if timed_out:
        return LimitedResult(problem=f"exceeded the time limit of {limits.seconds:g} s; stopped")
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        cap = f" (memory limit {limits.memory_mb} MiB)" if limits.memory_mb is not None else ""
        return LimitedResult(problem=f"the audit process was ended by {sig}{cap}")
    if not data:
        return LimitedResult(problem=f"the audit process exited with status {os.WEXITSTATUS(status)} "
                                     f"and no result")
    kind, payload = pickle.loads(bytes(data))
    if kind == "ok":
        return LimitedResult(value=payload, ok=True)
    if kind == "memory":
        return LimitedResult(problem=f"exceeded the memory limit of {limits.memory_mb} MiB; stopped")
    return LimitedResult(problem=f"the audit raised {payload}")


def _child(work: Callable[[], Any], limits: Limits, child_init: Callable[[], None] | None, fd: int) -> None:
    code = 0
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)   # a Ctrl-C reaches the parent, which kills us
        if limits.memory_mb is not None:
            cap = _mapped_bytes() + limits.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        try:
            if child_init is not None:
                child_init()
            result: tuple[str, Any] = ("ok", work())
        except MemoryError:
            result = ("memory", None)
        except Exception as exc:    # reported as the file's row by the parent, with its type
            result = ("raised", f"{type(exc).__name__}: {exc}")
        try:
            data = pickle.dumps(result)
        except Exception as exc:
            data = pickle.dumps(("raised", f"unpicklable result: {type(exc).__name__}: {exc}"))
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(data)
    except BaseException:
        code = _SEND_FAILED
    finally:
        os._exit(code)            # no atexit handlers, no flushing of the parent's copied buffers


def _mapped_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
