"""One Prefect global concurrency limit per GPU host, named `gpu-<hostname>`.

The generation backend occupies a slot of its own host's limit around each GPU job with
`prefect.concurrency.sync.concurrency(gpu_limit_name(), occupy=1, strict=True)`: strict, so
a host whose limit was never created fails loudly instead of running without a cap.
`tessera serve` and `tessera deploy` create the limits (ensure_gpu_limit).
"""
from __future__ import annotations

import re
import socket


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
