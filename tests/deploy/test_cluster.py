"""deploy/cluster.py's arithmetic and the HAProxy configuration it writes."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from deploy.cluster import (
    ClusterError,
    Instance,
    pool_sizing,
    reserved_port,
    write_haproxy_config,
)

from tests.flows.cluster import haproxy_reason


@pytest.mark.parametrize("processes", [1, 2, 3, 4, 8, 16, 45])
def test_the_workers_at_their_peak_stay_within_the_servers_free_connections(
    processes: int,
) -> None:
    size, overflow = pool_sizing(100, processes)
    assert size >= 1
    assert overflow >= 1
    assert processes * (size + overflow) <= 100 - 10


def test_one_process_keeps_the_single_server_default() -> None:
    assert pool_sizing(100, 1) == (10, 10)


def test_more_workers_than_the_server_can_serve_is_refused_before_anything_starts() -> None:
    with pytest.raises(ClusterError, match="max_connections"):
        pool_sizing(100, 46)


def _instances(tmp_path: Path) -> list[Instance]:
    return [
        Instance(f"idplus{n}", 9000 + n, [], {}, tmp_path / f"idplus{n}.log") for n in (1, 2, 3)
    ]


def test_the_balancer_checks_readiness_and_balances_every_instance_round_robin(
    tmp_path: Path,
) -> None:
    config = tmp_path / "haproxy.cfg"
    write_haproxy_config(
        config, port=8000, socket_path=tmp_path / "haproxy.sock", instances=_instances(tmp_path)
    )
    text = config.read_text()
    assert "{{" not in text
    assert "balance roundrobin" in text
    assert "option httpchk GET /readyz" in text
    assert "cookie" not in text  # no sticky sessions
    # A request sent again after its instance died: reads and the token-ish endpoints only.
    assert "retry-on conn-failure empty-response" in text
    assert "http-request disable-l7-retry unless METH_GET || retry_safe_post" in text
    assert "/admin" not in text
    assert "/portal" not in text
    for n in (1, 2, 3):
        assert f"server idplus{n} 127.0.0.1:{9000 + n}" in text


def test_haproxy_accepts_the_configuration(tmp_path: Path) -> None:
    if reason := haproxy_reason():
        pytest.skip(reason)
    config = tmp_path / "haproxy.cfg"
    write_haproxy_config(
        config, port=8000, socket_path=tmp_path / "haproxy.sock", instances=_instances(tmp_path)
    )
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_reserved_balancer_port_is_given_to_nobody_else_until_released() -> None:
    """Clusters start side by side in parallel test runs: the balancer's port, chosen before
    the migration and the instances, must not be taken before HAProxy binds it."""
    reservation = reserved_port()
    port = reservation.getsockname()[1]
    try:
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))
        with socket.socket() as haproxy_like:
            haproxy_like.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            haproxy_like.bind(("127.0.0.1", port))
            haproxy_like.listen()
    finally:
        reservation.close()
