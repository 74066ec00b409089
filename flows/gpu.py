"""One Prefect global concurrency limit per GPU host, named `gpu-<hostname>`.

The generation backend occupies a slot of its own host's limit around each GPU job with
`prefect.concurrency.sync.concurrency(gpu_limit_name(), occupy=1, strict=True)`: strict, so
a host whose limit was never created fails loudly instead of running without a cap.
`tessera serve` and `tessera deploy` create the limits (ensure_gpu_limit).
"""
from __future__ import annotations

import re
import socket
from contextlib import contextmanager


def gpu_limit_name(hostname: str | None = None) -> str:
    """`gpu-<hostname>` (lowercase; characters other than a-z, 0-9 and '-' become '-')."""
    host = (hostname or socket.gethostname()).strip().lower()
    slug = re.sub(r"[^a-z0-9-]+", "-", host).strip("-")
    if not slug:
        raise ValueError(f"hostname {hostname!r} gives an empty GPU limit name")
    return f"gpu-{slug}"


def ensure_gpu_limit(slots: int, hostname: str | None = None) -> str:
    """Create the host's GPU limit with `slots` (jobs at once), or set an existing one to it."""
    from prefect.client.orchestration import get_client

    if slots < 1:
        raise ValueError(f"a GPU host needs at least 1 slot, got {slots}")
    name = gpu_limit_name(hostname)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, slots)
    return name


class GpuLimitMissing(RuntimeError):
    pass


def require_gpu_limit(hostname: str | None = None) -> str:
    """Fail before any work when this host's GPU limit does not exist (strict, never unthrottled)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    name = gpu_limit_name(hostname)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            raise GpuLimitMissing(f"global concurrency limit {name!r} does not exist: create it with "
                                  f"`tessera serve`/`tessera deploy` (or `prefect gcl create {name} --limit 1`)") from None
    return name


@contextmanager
def gpu_slot(hostname: str | None = None):
    """Hold one slot of this host's GPU limit for the duration of a GPU job (strict)."""
    from prefect.concurrency.sync import concurrency

    with concurrency(gpu_limit_name(hostname), occupy=1, strict=True):
        yield
