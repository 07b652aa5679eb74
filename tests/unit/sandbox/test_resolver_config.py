"""The resolv.conf environments get: reachable nameservers from their own network namespace."""

from __future__ import annotations

from pathlib import Path

from shoal.runtime.rootfs import resolver_config


def test_the_hosts_file_when_its_nameservers_are_reachable(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("search example.com\nnameserver 10.255.255.53\n")
    assert resolver_config(str(host), str(tmp_path / "absent")) == host.read_text()


def test_the_upstream_servers_behind_a_loopback_stub(tmp_path: Path) -> None:
    host, upstream = tmp_path / "resolv.conf", tmp_path / "upstream.conf"
    host.write_text("nameserver 127.0.0.53\noptions edns0 trust-ad\n")
    upstream.write_text("nameserver 192.0.2.53\n")
    assert resolver_config(str(host), str(upstream)) == "nameserver 192.0.2.53\n"


def test_a_loopback_stub_without_upstream_file_is_kept(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\n")
    assert resolver_config(str(host), str(tmp_path / "absent")) == "nameserver 127.0.0.53\n"


def test_no_host_file(tmp_path: Path) -> None:
    assert resolver_config(str(tmp_path / "absent"), str(tmp_path / "absent")) is None
