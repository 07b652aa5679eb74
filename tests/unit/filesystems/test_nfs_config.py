"""The ganesha configuration of a mount target, export validation and the NULL RPC probe."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from pathlib import Path

import pytest

from shoal.filesystems.nfs import Export, render_config, rpc_null, validate_exports

WHOLE = Export(1, "/data/fs/fs-1", "/fs-1", None, None)
AP = Export(2, "/data/fs/fs-1/message", "/fsap-1", 1001, 1002)


def block(config: str, name: str, index: int = 0) -> str:
    """The text of the index-th top-level block called name (blocks nest at most two deep)."""
    starts = [m.start() for m in re.finditer(rf"^{name} {{", config, re.M)]
    text = config[starts[index] :]
    depth = 0
    for i, ch in enumerate(text):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "}" and depth == 0:
            return text[: i + 1]
    raise AssertionError(f"unterminated block {name}")


def test_core_params_are_nfsv4_only_on_the_given_address(tmp_path: Path) -> None:
    config = render_config(tmp_path / "fsmt-1", "127.0.0.1", 20490, [WHOLE])
    core = block(config, "NFS_CORE_PARAM")
    for line in ("Protocols = 4;", "NFS_Port = 20490;", "Bind_Addr = 127.0.0.1;",
                 "Enable_NLM = false;", "Enable_RQUOTA = false;", "Enable_UDP = false;",
                 "Dbus_Name_Prefix = fsmt_1;"):  # fmt: skip
        assert line in core
    v4 = block(config, "NFSV4")
    assert "Graceless = true;" in v4
    assert f'RecoveryRoot = "{tmp_path / "fsmt-1" / "recovery"}";' in v4


def test_every_export_and_the_pseudo_root_serve_only_privileged_ports(tmp_path: Path) -> None:
    config = render_config(tmp_path / "t", "127.0.0.1", 2049, [WHOLE, AP])
    assert "PrivilegedPort = true;" in block(config, "EXPORT_DEFAULTS")
    pseudo = block(config, "EXPORT", 0)
    for line in ("Export_Id = 0;", 'Pseudo = "/";', "Name = PSEUDO;", "PrivilegedPort = true;",
                 "Access_Type = MDONLY_RO;"):  # fmt: skip
        assert line in pseudo
    for index in (1, 2):
        assert "PrivilegedPort = true;" in block(config, "EXPORT", index)


def test_root_squashed_export(tmp_path: Path) -> None:
    squashed = Export(1, "/data/fs/fs-1", "/fs-1", None, None, root_squash=True)
    export = block(render_config(tmp_path / "t", "127.0.0.1", 2049, [squashed]), "EXPORT", 1)
    assert "Squash = Root_Squash;" in export
    assert "Anonymous_Uid = 65534;" in export and "Anonymous_Gid = 65534;" in export
    with pytest.raises(ValueError, match="root squash"):
        validate_exports([Export(1, "/a", "/a", 5, 5, root_squash=True)])


def test_whole_file_system_export_is_not_squashed(tmp_path: Path) -> None:
    export = block(render_config(tmp_path / "t", "127.0.0.1", 2049, [WHOLE, AP]), "EXPORT", 1)
    assert 'Path = "/data/fs/fs-1";' in export
    assert 'Pseudo = "/fs-1";' in export
    assert "Squash = No_Root_Squash;" in export
    assert "Anonymous_Uid" not in export
    assert "Access_Type = RW;" in export
    for line in ("Protocols = 4;", "Transports = TCP;", "SecType = sys;", "Name = VFS;",
                 "Attr_Expiration_Time = 0;"):  # fmt: skip
        assert line in export


def test_access_point_export_squashes_everyone_to_its_user(tmp_path: Path) -> None:
    export = block(render_config(tmp_path / "t", "127.0.0.1", 2049, [WHOLE, AP]), "EXPORT", 2)
    assert "Export_Id = 2;" in export
    assert "Squash = All_Squash;" in export
    assert "Anonymous_Uid = 1001;" in export
    assert "Anonymous_Gid = 1002;" in export


def test_readonly_export_and_client_restriction(tmp_path: Path) -> None:
    ro = Export(3, "/srv/x", "/x", 5, 6, readonly=True)
    loop = block(render_config(tmp_path / "t", "127.0.0.1", 2049, [ro]), "EXPORT", 1)
    assert "Access_Type = RO;" in block(loop, "    CLIENT")
    assert "Clients = 127.0.0.0/8, ::1;" in loop
    lan = block(render_config(tmp_path / "t", "192.168.7.3", 2049, [ro]), "EXPORT", 1)
    assert "Clients = *;" in lan


@pytest.mark.parametrize(
    ("exports", "message"),
    [
        ([], "at least one export"),
        ([WHOLE, Export(1, "/b", "/b", None, None)], "unique"),
        ([Export(0, "/b", "/b", None, None)], ">= 1"),
        ([WHOLE, Export(2, "/b", "/fs-1", None, None)], "pseudo paths must be unique"),
        ([Export(1, "/a/../b", "/b", None, None)], "normalised"),
        ([Export(1, "/b", "b", None, None)], "normalised"),
        ([Export(1, '/b"c', "/b", None, None)], "normalised"),
        ([Export(1, "/b", "/b", 5, None)], "go together"),
        # Ganesha can graft a pseudo path only onto its own pseudo tree, not into a real one.
        ([Export(1, "/a", "/", None, None), AP], "nested"),
        ([Export(1, "/a", "/x", None, None), Export(2, "/b", "/x/y", 1, 1)], "nested"),
    ],
)
def test_bad_export_lists_are_refused(exports: list[Export], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_exports(exports)


def test_sole_export_may_be_the_pseudo_root() -> None:
    validate_exports([Export(1, "/a", "/", None, None)])
    validate_exports([Export(1, "/a", "/x", None, None), Export(2, "/b", "/xy", 1, 1)])


async def _rpc_server(reply_for: object) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        (mark,) = struct.unpack(">I", await reader.readexactly(4))
        call = await reader.readexactly(mark & 0x7FFFFFFF)
        body = reply_for(call)  # type: ignore[operator]
        writer.write(struct.pack(">I", 0x80000000 | len(body)) + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_rpc_null_accepts_a_successful_reply_to_its_own_call() -> None:
    seen: list[tuple[int, ...]] = []

    def reply(call: bytes) -> bytes:
        fields = struct.unpack(">10I", call)
        seen.append(fields)
        # xid, REPLY, MSG_ACCEPTED, verifier AUTH_NONE of 0 bytes, SUCCESS
        return struct.pack(">6I", fields[0], 1, 0, 0, 0, 0)

    async def main() -> bool:
        server, port = await _rpc_server(reply)
        async with server:
            return await rpc_null("127.0.0.1", port)

    assert asyncio.run(main()) is True
    assert seen[0][1:6] == (0, 2, 100003, 4, 0)  # CALL, RPC v2, NFS, version 4, NULL


def test_rpc_null_rejects_wrong_xid_and_errors() -> None:
    def wrong_xid(call: bytes) -> bytes:
        return struct.pack(">6I", struct.unpack(">I", call[:4])[0] ^ 1, 1, 0, 0, 0, 0)

    def prog_unavail(call: bytes) -> bytes:
        return struct.pack(">6I", struct.unpack(">I", call[:4])[0], 1, 0, 0, 0, 1)

    async def main() -> list[bool]:
        results = []
        for reply in (wrong_xid, prog_unavail):
            server, port = await _rpc_server(reply)
            async with server:
                results.append(await rpc_null("127.0.0.1", port))
        return results

    assert asyncio.run(main()) == [False, False]


def test_rpc_null_is_false_when_nothing_listens() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        # Bound but not listening: a connection is refused.
        assert asyncio.run(rpc_null("127.0.0.1", port, timeout=1.0)) is False
