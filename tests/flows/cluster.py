"""Several `idplus serve` instances on one PostgreSQL database behind HAProxy, for the tests of
INTERFACE "Running several instances" (deploy/cluster.py starts them)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from deploy.cluster import Cluster, running_cluster


def haproxy_reason() -> str | None:
    if shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists():
        return "HAProxy is not installed (apt-get install -y haproxy; .ci/run installs it)"
    return None


@contextmanager
def cluster_on(workdir: Path, database_url: str, **options: Any) -> Iterator[Cluster]:
    """A started cluster (instances=2 unless `options` say otherwise); skipped without HAProxy.
    `database_url` comes from the `empty_postgres_url` fixture, which skips without PostgreSQL.
    On the way out, no instance may have logged a traceback."""
    reason = haproxy_reason()
    if reason:
        pytest.skip(reason)
    with running_cluster(workdir, database_url, **options) as cluster:
        yield cluster
    logs = cluster.instance_logs()
    assert "Traceback" not in logs, logs[-3000:]
