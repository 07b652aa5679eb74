"""Attacks through layer packages, on a real server with real sandboxes.

A layer is a zip anyone with API access uploads; Shoal unpacks it and merges it with other
layers on the host, as root. Each layer alone is checked like function code (no entry or link
leaving its tree); the attack here is a *combination*: links from two layers that are each
harmless but together lead out of the merged tree (``a/p -> ..`` in one, ``a/l -> p/..`` in
another), and a third layer that writes "under" that link. Were the merge to follow links, the
third layer's file would land on the host, outside the merged /opt. And inside an environment,
the same chain leads only to the environment's own root, never the host's.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, create_function, make_zip, unique_name


def _zip(files: dict[str, str], links: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def _layer(lam: Any, data: bytes) -> str:
    arn: str = lam.publish_layer_version(LayerName=unique_name(), Content={"ZipFile": data})[
        "LayerVersionArn"
    ]
    return arn


PROBE = """
import os
def handler(event, context):
    out = {"l": os.path.realpath("/opt/a/l"), "var": os.path.isdir("/opt/a/l/var/task")}
    out["host"] = os.path.exists("/opt/a/l" + event["data_dir"])
    out["escape"] = os.path.exists("/opt/a/l/escape.txt")
    return out
"""


def test_links_combined_across_layers_lead_nowhere_on_the_host(
    server: ShoalServer, lambda_client: Any
) -> None:
    # Each alone is accepted: its links stay inside its own tree.
    first = _layer(lambda_client, _zip({"a/keep.txt": "a"}, {"a/p": ".."}))
    second = _layer(lambda_client, _zip({"b.txt": "b"}, {"a/l": "p/.."}))
    third = _layer(lambda_client, make_zip({"a/l/escape.txt": "escaped"}))
    opt_root = server.data_dir / "layers" / "opt"

    # Layers 1 and 2: in the environment the chain ends at the environment's root.
    name = create_function(lambda_client, code=PROBE, handler="app.handler", Layers=[first, second])
    out = lambda_client.invoke(
        FunctionName=name, Payload=json.dumps({"data_dir": str(server.data_dir)})
    )
    got = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, got
    assert got["l"] == "/" and got["var"]  # the environment's own root: /var/task is there
    assert not got["host"]  # ... and nothing of the host's tree, such as Shoal's data directory

    # With layer 3 on top, its file replaces the link: it lands in /opt/a/l, not on the host.
    update = lambda_client.update_function_configuration(
        FunctionName=name, Layers=[first, second, third]
    )
    assert update["Layers"][2]["Arn"] == third
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    out = lambda_client.invoke(
        FunctionName=name, Payload=json.dumps({"data_dir": str(server.data_dir)})
    )
    got = json.loads(out["Payload"].read())
    assert got["escape"] and got["l"] == "/opt/a/l"
    assert not (opt_root / "escape.txt").exists()
    assert not (opt_root.parent / "escape.txt").exists()
    # Only where it belongs: layer 3's own package tree, and merged trees at a/l.
    found = [p.relative_to(server.data_dir).parts for p in server.data_dir.rglob("escape.txt")]
    assert found and all(
        parts[:2] in (("layers", "opt"), ("layers", "packages"))
        and parts[3:] == ("a", "l", "escape.txt")
        for parts in found
    ), found


def test_a_layer_that_leaves_its_own_tree_is_refused(lambda_client: Any) -> None:
    for data in (
        _zip({}, {"python": "../.."}),
        _zip({}, {"python": "/etc"}),
        make_zip({"../../outside.txt": "x"}),
        make_zip({"/abs.txt": "x"}),
    ):
        with pytest.raises(ClientError) as e:
            _layer(lambda_client, data)
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
