"""``shoal fs …``: file systems, access points, policies, mount targets, and host mounts.

The AWS-shaped commands are boto3 EFS clients of a running Shoal (``--endpoint-url``), so
whatever they do, ``aws efs …`` does too. ``mount``/``unmount``/``du`` use Shoal's own
``/shoal/fs/`` endpoint for host paths and must run on the server's host; ``mount`` as root.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import uuid
from pathlib import Path
from typing import Any

from shoal.cli.client import client, endpoint, urlopen
from shoal.cli.main import print_json


def _efs(args: argparse.Namespace) -> Any:
    return client("efs", args.endpoint_url)


def _shoal_api(args: argparse.Namespace, path: str, method: str = "GET") -> dict[str, Any]:
    url = f"{endpoint(args.endpoint_url)}/shoal/fs/{path}"
    try:
        with urlopen(url, timeout=120, method=method) as r:
            doc: dict[str, Any] = json.load(r)
            return doc
    except urllib.error.HTTPError as e:
        body = json.loads(e.read() or b"{}")
        raise SystemExit(f"shoal: {body.get('ErrorCode')}: {body.get('Message')}") from None


def _tags(pairs: list[str] | None, name: str | None) -> list[dict[str, str]]:
    tags = []
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"shoal: --tag wants KEY=VALUE, not {pair!r}")
        tags.append({"Key": key, "Value": value})
    if name is not None:
        tags.append({"Key": "Name", "Value": name})
    return tags


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# ------------------------------------------------------------------ file systems


def _create(args: argparse.Namespace) -> int:
    kwargs: dict[str, Any] = {
        "CreationToken": args.creation_token or str(uuid.uuid4()),
        "PerformanceMode": args.performance_mode,
        "ThroughputMode": args.throughput_mode,
        "Encrypted": args.encrypted,
        "Tags": _tags(args.tag, args.name),
    }
    if args.provisioned_throughput is not None:
        kwargs["ProvisionedThroughputInMibps"] = args.provisioned_throughput
    print_json(_efs(args).create_file_system(**kwargs))
    return 0


def _list(args: argparse.Namespace) -> int:
    pages = _efs(args).get_paginator("describe_file_systems").paginate()
    systems = [fs for page in pages for fs in page["FileSystems"]]
    if args.json:
        print_json({"FileSystems": systems})
        return 0
    print(f"{'FILE SYSTEM':22} {'NAME':20} {'STATE':10} {'SIZE':>10} {'THROUGHPUT':12} TARGETS")
    for fs in systems:
        print(f"{fs['FileSystemId']:22} {fs.get('Name', '-'):20} {fs['LifeCycleState']:10} "
              f"{_human(fs['SizeInBytes']['Value']):>10} {fs['ThroughputMode']:12} "
              f"{fs['NumberOfMountTargets']}")  # fmt: skip
    return 0


def _get(args: argparse.Namespace) -> int:
    efs = _efs(args)
    (fs,) = efs.describe_file_systems(FileSystemId=args.file_system_id)["FileSystems"]
    fs["AccessPoints"] = efs.describe_access_points(FileSystemId=fs["FileSystemId"])["AccessPoints"]
    print_json(fs)
    return 0


def _delete(args: argparse.Namespace) -> int:
    _efs(args).delete_file_system(FileSystemId=args.file_system_id)
    return 0


def _du(args: argparse.Namespace) -> int:
    doc = _shoal_api(args, f"file-systems/{args.file_system_id}/du?depth={args.depth}")
    for entry in doc["Entries"][: args.top]:
        print(f"{_human(entry['Bytes']):>10}  {entry['Path']}")
    return 0


# ------------------------------------------------------------------ access points


def _ap_create(args: argparse.Namespace) -> int:
    kwargs: dict[str, Any] = {
        "FileSystemId": args.file_system_id,
        "ClientToken": args.client_token or str(uuid.uuid4()),
        "Tags": _tags(args.tag, args.name),
    }
    if args.uid is not None or args.gid is not None:
        if args.uid is None or args.gid is None:
            raise SystemExit("shoal: --uid and --gid go together")
        user: dict[str, Any] = {"Uid": args.uid, "Gid": args.gid}
        if args.secondary_gids:
            user["SecondaryGids"] = [int(g) for g in args.secondary_gids.split(",")]
        kwargs["PosixUser"] = user
    root: dict[str, Any] = {"Path": args.path}
    if args.permissions is not None:
        root["CreationInfo"] = {
            "OwnerUid": args.owner_uid if args.owner_uid is not None else args.uid,
            "OwnerGid": args.owner_gid if args.owner_gid is not None else args.gid,
            "Permissions": args.permissions,
        }
        if None in root["CreationInfo"].values():
            raise SystemExit("shoal: --permissions needs --owner-uid/--owner-gid (or --uid/--gid)")
    kwargs["RootDirectory"] = root
    print_json(_efs(args).create_access_point(**kwargs))
    return 0


def _ap_list(args: argparse.Namespace) -> int:
    kwargs = {"FileSystemId": args.file_system_id} if args.file_system_id else {}
    aps = _efs(args).describe_access_points(**kwargs)["AccessPoints"]
    if args.json:
        print_json({"AccessPoints": aps})
        return 0
    print(f"{'ACCESS POINT':24} {'FILE SYSTEM':22} {'NAME':16} {'USER':12} PATH")
    for ap in aps:
        user = ap.get("PosixUser")
        shown = f"{user['Uid']}:{user['Gid']}" if user else "-"
        print(f"{ap['AccessPointId']:24} {ap['FileSystemId']:22} {ap.get('Name', '-'):16} "
              f"{shown:12} {ap['RootDirectory']['Path']}")  # fmt: skip
    return 0


def _ap_delete(args: argparse.Namespace) -> int:
    _efs(args).delete_access_point(AccessPointId=args.access_point_id)
    return 0


# ------------------------------------------------------------------ policies


def _policy_put(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.policy == "-" else args.policy
    if not text.lstrip().startswith("{") and Path(text).is_file():
        text = Path(text).read_text()
    print_json(_efs(args).put_file_system_policy(FileSystemId=args.file_system_id, Policy=text))
    return 0


def _policy_get(args: argparse.Namespace) -> int:
    doc = _efs(args).describe_file_system_policy(FileSystemId=args.file_system_id)
    print(json.dumps(json.loads(doc["Policy"]), indent=2))
    return 0


def _policy_delete(args: argparse.Namespace) -> int:
    _efs(args).delete_file_system_policy(FileSystemId=args.file_system_id)
    return 0


# ------------------------------------------------------------------ mount targets


def _default_subnet(args: argparse.Namespace) -> str:
    """The default VPC's subnet in the first zone, as the console offers it."""
    subnets = client("ec2", args.endpoint_url).describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"]
    subnets.sort(key=lambda s: s["AvailabilityZone"])
    return str(subnets[0]["SubnetId"])


def _mt_create(args: argparse.Namespace) -> int:
    subnet = args.subnet_id or _default_subnet(args)
    kwargs = {"FileSystemId": args.file_system_id, "SubnetId": subnet}
    if args.ip_address:
        kwargs["IpAddress"] = args.ip_address
    print_json(_efs(args).create_mount_target(**kwargs))
    return 0


def _mt_list(args: argparse.Namespace) -> int:
    targets = _efs(args).describe_mount_targets(FileSystemId=args.file_system_id)["MountTargets"]
    print(f"{'MOUNT TARGET':24} {'STATE':10} {'ADDRESS':22} {'TLS PORT':8} NFS URL")
    for t in targets:
        ports = _shoal_api(args, f"mount-targets/{t['MountTargetId']}")
        port, tls_port = ports["Port"], ports.get("TlsPort") or "-"
        url = f"nfs://{t['IpAddress']}/{t['FileSystemId']}?version=4&nfsport={port}"
        print(f"{t['MountTargetId']:24} {t['LifeCycleState']:10} "
              f"{t['IpAddress'] + ':' + str(port):22} {tls_port!s:8} {url}")  # fmt: skip
    return 0


def _mt_delete(args: argparse.Namespace) -> int:
    _efs(args).delete_mount_target(MountTargetId=args.mount_target_id)
    return 0


# ------------------------------------------------------------------ host mounts


def _mount(args: argparse.Namespace) -> int:
    from shoal.filesystems import hostmount

    if os.geteuid() != 0:
        raise SystemExit("shoal: fs mount must run as root (it creates a mount)")
    target = os.path.abspath(args.path)
    if hostmount.is_mount_point(target):
        raise SystemExit(f"shoal: {target} is already a mount point")
    try:
        if args.access_point is None:
            doc = _shoal_api(args, f"file-systems/{args.file_system_id}/path")
        else:
            doc = _shoal_api(args, f"access-points/{args.access_point}/path", method="POST")
            if doc["FileSystemId"] != args.file_system_id.rsplit("/", 1)[-1]:
                raise SystemExit(f"shoal: {args.access_point} is not an access point of "
                                 f"{args.file_system_id}")  # fmt: skip
        # The server's identity rule (shoal.filesystems.identity) decides; --read-only adds.
        readonly = args.read_only or doc["ReadOnly"]
        if doc.get("Uid") is None and doc["RootSquash"]:
            hostmount.bind_root_squashed(doc["Path"], target, readonly=readonly, suid=args.suid)
            who = "your own identity, root squashed to 65534 (no ClientRootAccess)"
        elif doc.get("Uid") is None:
            hostmount.bind(doc["Path"], target, readonly=readonly, suid=args.suid)
            who = "your own identity"
        else:
            hostmount.bind_as(doc["Path"], target, doc["Uid"], doc["Gid"], host_uid=args.host_uid,
                              host_gid=args.host_gid, readonly=readonly,
                              suid=args.suid)  # fmt: skip
            who = f"uid {args.host_uid} acting as {doc['Uid']}:{doc['Gid']}"
    except hostmount.HostMountError as e:
        raise SystemExit(f"shoal: {e}") from None
    what = args.access_point or args.file_system_id
    print(f"{what} mounted at {target} ({who}{', read-only' if readonly else ''}){_flags(args)}")
    return 0


def _flags(args: argparse.Namespace) -> str:
    return "; set-id bits honoured (--suid)" if args.suid else ""


def _unmount(args: argparse.Namespace) -> int:
    from shoal.filesystems import hostmount

    try:
        hostmount.unmount(os.path.abspath(args.path))
    except hostmount.HostMountError as e:
        raise SystemExit(f"shoal: {e}") from None
    return 0


# ------------------------------------------------------------------ parser


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--endpoint-url", help="Shoal endpoint (default $SHOAL_ENDPOINT, else http://127.0.0.1:9000)"
    )
    group = subparsers.add_parser("fs", help="manage file systems and access points")
    sub = group.add_subparsers(dest="fs_command", required=True)

    p = sub.add_parser("create", parents=[common], help="create a file system")
    p.add_argument("--name")
    p.add_argument("--creation-token", help="idempotency token (default: a new UUID)")
    p.add_argument("--performance-mode", default="generalPurpose",
                   choices=["generalPurpose", "maxIO"])  # fmt: skip
    p.add_argument("--throughput-mode", default="elastic",
                   choices=["bursting", "provisioned", "elastic"])  # fmt: skip
    p.add_argument("--provisioned-throughput", type=float, metavar="MIBPS")
    p.add_argument("--encrypted", action="store_true")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE")
    p.set_defaults(func=_create)

    p = sub.add_parser("list", parents=[common], help="list file systems")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)

    for name, func, text in (("get", _get, "show a file system and its access points"),
                             ("delete", _delete, "delete a file system and its data")):  # fmt: skip
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("file_system_id", metavar="FS_ID")
        p.set_defaults(func=func)

    p = sub.add_parser("du", parents=[common], help="what takes space in a file system")
    p.add_argument("file_system_id", metavar="FS_ID")
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--top", type=int, default=20, help="show this many largest directories")
    p.set_defaults(func=_du)

    _register_access_points(sub, common)
    _register_policy(sub, common)
    _register_mount_targets(sub, common)

    p = sub.add_parser("mount", parents=[common],
                       help="mount a file system (or one access point) on this host")  # fmt: skip
    p.add_argument("file_system_id", metavar="FS_ID")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--access-point", metavar="AP_ID",
                   help="mount this access point's root, acting as its POSIX user")  # fmt: skip
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--host-uid", type=int, default=0,
                   help="host user acting as the access point's user (default root)")  # fmt: skip
    p.add_argument("--host-gid", type=int, default=0)
    p.add_argument("--suid", action="store_true",
                   help="honour set-uid/set-gid bits of the file system's programs on this "
                        "mount (by default the mount is nosuid,nodev; --suid lifts nosuid only: "
                        "device nodes stay inert)")  # fmt: skip
    p.set_defaults(func=_mount)

    p = sub.add_parser("unmount", help="unmount what shoal fs mount mounted")
    p.add_argument("path", metavar="PATH")
    p.set_defaults(func=_unmount)

    try:
        from shoal.cli import fs_tools
    except ModuleNotFoundError as e:
        if e.name != "shoal.cli.fs_tools":
            raise
    else:
        fs_tools.add_commands(sub)


def _register_access_points(sub: Any, common: argparse.ArgumentParser) -> None:
    ap = sub.add_parser("access-point", help="manage access points").add_subparsers(
        dest="ap_command", required=True
    )
    p = ap.add_parser("create", parents=[common], help="create an access point")
    p.add_argument("file_system_id", metavar="FS_ID")
    p.add_argument("--uid", type=int, help="POSIX user every operation runs as")
    p.add_argument("--gid", type=int)
    p.add_argument("--secondary-gids", metavar="GID,GID")
    p.add_argument("--path", default="/", help="root directory (default /)")
    p.add_argument("--owner-uid", type=int, help="owner of the root if created (default --uid)")
    p.add_argument("--owner-gid", type=int)
    p.add_argument("--permissions", metavar="OCTAL",
                   help="mode of the root if created, e.g. 750 (enables creation)")  # fmt: skip
    p.add_argument("--name")
    p.add_argument("--client-token")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE")
    p.set_defaults(func=_ap_create)
    p = ap.add_parser("list", parents=[common], help="list access points")
    p.add_argument("file_system_id", metavar="FS_ID", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_ap_list)
    p = ap.add_parser("delete", parents=[common], help="delete an access point (not its files)")
    p.add_argument("access_point_id", metavar="AP_ID")
    p.set_defaults(func=_ap_delete)


def _register_policy(sub: Any, common: argparse.ArgumentParser) -> None:
    pol = sub.add_parser("policy", help="file system policies").add_subparsers(
        dest="policy_command", required=True
    )
    p = pol.add_parser("put", parents=[common], help="set the policy (JSON, a file, or - )")
    p.add_argument("file_system_id", metavar="FS_ID")
    p.add_argument("policy", metavar="POLICY")
    p.set_defaults(func=_policy_put)
    for name, func in (("get", _policy_get), ("delete", _policy_delete)):
        p = pol.add_parser(name, parents=[common], help=f"{name} the policy")
        p.add_argument("file_system_id", metavar="FS_ID")
        p.set_defaults(func=func)


def _register_mount_targets(sub: Any, common: argparse.ArgumentParser) -> None:
    mt = sub.add_parser("mount-target", help="NFS mount targets").add_subparsers(
        dest="mt_command", required=True
    )
    p = mt.add_parser("create", parents=[common], help="serve a file system over NFSv4")
    p.add_argument("file_system_id", metavar="FS_ID")
    p.add_argument("--subnet-id", help="default: the default VPC's subnet in the first zone")
    p.add_argument("--ip-address")
    p.set_defaults(func=_mt_create)
    p = mt.add_parser("list", parents=[common], help="list a file system's mount targets")
    p.add_argument("file_system_id", metavar="FS_ID")
    p.set_defaults(func=_mt_list)
    p = mt.add_parser("delete", parents=[common], help="delete a mount target")
    p.add_argument("mount_target_id", metavar="MT_ID")
    p.set_defaults(func=_mt_delete)
