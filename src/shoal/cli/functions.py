"""``shoal function create|list|get|update|delete|invoke``: functions from the command line.

Every command is a boto3 Lambda client of a running Shoal (``--endpoint-url``), so what works
here works with the AWS CLI and SDKs too. ``--source`` zips a directory or a file for you.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

from shoal.cli.client import client
from shoal.cli.main import print_json

DEFAULT_ROLE_NAME = "shoal-function"
# The role a function made without --role runs as, made (trusting Lambda, no permissions) by
# the first such create: a function must have a role that Lambda can assume.
LAMBDA_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})  # fmt: skip
DEFAULT_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
_SKIP_DIRS = {"__pycache__", ".git", ".venv", ".mypy_cache", ".pytest_cache"}


def zip_source(source: Path) -> bytes:
    """A deployment package of a directory (its contents at the root) or of a single file.

    ``ZipFile.write`` records each file's mode, so bundled executables stay executable.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if source.is_file():
            zf.write(source, source.name)
        elif source.is_dir():
            for root, dirs, files in os.walk(source):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                for name in sorted(files):
                    if name.endswith(".pyc"):
                        continue
                    path = Path(root) / name
                    zf.write(path, path.relative_to(source).as_posix())
        else:
            raise SystemExit(f"shoal: no such file or directory: {source}")
    return buf.getvalue()


def _package(args: argparse.Namespace) -> bytes | None:
    if args.zip_file:
        return Path(args.zip_file).read_bytes()
    if args.source:
        return zip_source(Path(args.source))
    return None


def _environment(pairs: list[str] | None) -> dict[str, str] | None:
    if pairs is None:
        return None
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"shoal: --env takes KEY=VALUE, not {pair!r}")
        env[key] = value
    return env


def _config(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration members given on the command line."""
    params: dict[str, Any] = {}
    for attr, member in (
        ("runtime", "Runtime"),
        ("handler", "Handler"),
        ("role", "Role"),
        ("memory", "MemorySize"),
        ("timeout", "Timeout"),
        ("description", "Description"),
    ):
        value = getattr(args, attr, None)
        if value is not None:
            params[member] = value
    env = _environment(args.env)
    if env is not None:
        params["Environment"] = {"Variables": env}
    return params


def _create(args: argparse.Namespace) -> int:
    package = _package(args)
    if package is None:
        raise SystemExit("shoal: give the code with --zip-file PATH or --source DIR_OR_FILE")
    lam = client("lambda", args.endpoint_url)
    params = _config(args)
    if "Role" not in params:
        params["Role"] = _default_role(args.endpoint_url)
    params = {"Runtime": DEFAULT_RUNTIME, **params}
    result = lam.create_function(
        FunctionName=args.name, Code={"ZipFile": package}, Publish=args.publish, **params
    )
    if args.wait:
        lam.get_waiter("function_active_v2").wait(
            FunctionName=args.name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600}
        )
        result = lam.get_function_configuration(FunctionName=args.name)
    print_json(result)
    return 0


def _default_role(endpoint_url: str | None) -> str:
    """The ARN of :data:`DEFAULT_ROLE_NAME`, made if it does not exist yet."""
    iam = client("iam", endpoint_url)
    try:
        role = iam.create_role(RoleName=DEFAULT_ROLE_NAME, AssumeRolePolicyDocument=LAMBDA_TRUST,
                               Description="Functions made by shoal function create")  # fmt: skip
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=DEFAULT_ROLE_NAME)
    return str(role["Role"]["Arn"])


def _list(args: argparse.Namespace) -> int:
    lam = client("lambda", args.endpoint_url)
    functions: list[dict[str, Any]] = []
    for page in lam.get_paginator("list_functions").paginate():
        functions.extend(page["Functions"])
    if args.json:
        print_json(functions)
        return 0
    rows = [("NAME", "RUNTIME", "MEMORY", "TIMEOUT", "STATE", "LAST MODIFIED")]
    rows += [
        (
            f["FunctionName"],
            f.get("Runtime", ""),
            str(f["MemorySize"]),
            str(f["Timeout"]),
            f.get("State", ""),
            f["LastModified"],
        )
        for f in functions
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _get(args: argparse.Namespace) -> int:
    lam = client("lambda", args.endpoint_url)
    kwargs = {"Qualifier": args.qualifier} if args.qualifier else {}
    print_json(lam.get_function(FunctionName=args.name, **kwargs))
    return 0


def _update(args: argparse.Namespace) -> int:
    lam = client("lambda", args.endpoint_url)
    package = _package(args)
    params = _config(args)
    if package is None and not params:
        raise SystemExit("shoal: nothing to update (give code and/or configuration options)")
    waiter = lam.get_waiter("function_updated_v2")
    wait = {"FunctionName": args.name, "WaiterConfig": {"Delay": 0.2, "MaxAttempts": 600}}
    if package is not None:
        lam.update_function_code(FunctionName=args.name, ZipFile=package)
        waiter.wait(**wait)
    if params:
        lam.update_function_configuration(FunctionName=args.name, **params)
        waiter.wait(**wait)
    print_json(lam.get_function_configuration(FunctionName=args.name))
    return 0


def _delete(args: argparse.Namespace) -> int:
    lam = client("lambda", args.endpoint_url)
    kwargs = {"Qualifier": args.qualifier} if args.qualifier else {}
    lam.delete_function(FunctionName=args.name, **kwargs)
    return 0


def _invoke(args: argparse.Namespace) -> int:
    lam = client("lambda", args.endpoint_url)
    kwargs: dict[str, Any] = {"FunctionName": args.name, "Payload": args.payload.encode()}
    if args.qualifier:
        kwargs["Qualifier"] = args.qualifier
    if args.log:
        kwargs["LogType"] = "Tail"
    result = lam.invoke(**kwargs)
    if args.log and result.get("LogResult"):
        sys.stderr.write(base64.b64decode(result["LogResult"]).decode("utf-8", "replace"))
        sys.stderr.flush()
    payload = result["Payload"].read()
    sys.stdout.write(payload.decode("utf-8", "replace") + "\n")
    if result.get("FunctionError"):
        print(f"shoal: function error: {result['FunctionError']}", file=sys.stderr)
        return 1
    return 0


def _payload(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--payload must be JSON: {e}") from None
    return text


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--endpoint-url",
        help="Shoal endpoint (default $SHOAL_ENDPOINT, else http://127.0.0.1:9000)",
    )
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--runtime", help=f"python3.N (create default {DEFAULT_RUNTIME})")
    config.add_argument("--handler", help="module.function, e.g. app.handler")
    config.add_argument("--role", help="the function's execution role (an IAM role ARN; "
                        f"default: {DEFAULT_ROLE_NAME}, made if absent)")
    config.add_argument("--memory", type=int, help="memory size in MB (128-10240)")
    config.add_argument("--timeout", type=int, help="timeout in seconds (1-900)")
    config.add_argument("--description")
    config.add_argument(
        "--env",
        action="append",
        metavar="KEY=VALUE",
        help="environment variable (repeatable; replaces all variables)",
    )
    code = argparse.ArgumentParser(add_help=False)
    source = code.add_mutually_exclusive_group()
    source.add_argument("--zip-file", help="a .zip deployment package")
    source.add_argument("--source", help="a directory or file, zipped for you")

    group = subparsers.add_parser("function", help="manage functions")
    sub = group.add_subparsers(dest="function_command", required=True)

    p = sub.add_parser("create", parents=[common, config, code], help="create a function")
    p.add_argument("name")
    p.add_argument("--publish", action="store_true", help="also publish version 1")
    p.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="return while the function is still Pending",
    )
    p.set_defaults(func=_create)

    p = sub.add_parser("list", parents=[common], help="list functions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)

    p = sub.add_parser("get", parents=[common], help="show a function")
    p.add_argument("name")
    p.add_argument("--qualifier")
    p.set_defaults(func=_get)

    p = sub.add_parser(
        "update",
        parents=[common, config, code],
        help="update a function's code and/or configuration",
    )
    p.add_argument("name")
    p.set_defaults(func=_update)

    p = sub.add_parser("delete", parents=[common], help="delete a function or one version")
    p.add_argument("name")
    p.add_argument("--qualifier", help="delete only this version")
    p.set_defaults(func=_delete)

    p = sub.add_parser("invoke", parents=[common], help="invoke a function and print its result")
    p.add_argument("name")
    p.add_argument("--payload", type=_payload, default="{}", help="the event, as JSON")
    p.add_argument("--qualifier", help="version or alias")
    p.add_argument("--log", action="store_true", help="print the log tail to stderr")
    p.set_defaults(func=_invoke)
