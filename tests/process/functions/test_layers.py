"""Lambda layers with a real server, real sandboxes, boto3 and the AWS CLI: the layer API in
Lambda's shapes and errors, a function's layers merged read-only at /opt in order, the Python
paths Lambda's runtimes have, the quotas, the layer policy, and all of it across a restart."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT, RUNTIME, create_function, make_zip, start_server, unique_name

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
SITE = f"python/lib/{PY}/site-packages"

FIRST = {
    "python/liba.py": "VALUE = 'from layer a'\n",
    "python/shared.py": "WHO = 'a'\n",
    f"{SITE}/sitepkg.py": "VALUE = 'site-packages of layer a'\n",
    "data/only_a.txt": "a\n",
    "data/both.txt": "a\n",
}
SECOND = {
    "python/libb.py": "VALUE = 'from layer b'\n",
    "python/shared.py": "WHO = 'b'\n",
    "data/both.txt": "b\n",
}

HANDLER = """
import errno, os, sys
import liba, libb, shared, sitepkg

def handler(event, context):
    try:
        open("/opt/data/new.txt", "w")
        write = "written"
    except OSError as e:
        write = errno.errorcode[e.errno]
    return {
        "liba": liba.VALUE, "libb": libb.VALUE, "shared": shared.WHO, "site": sitepkg.VALUE,
        "both": open("/opt/data/both.txt").read(), "only_a": open("/opt/data/only_a.txt").read(),
        "write": write, "path": sys.path[:4], "PATH": os.environ["PATH"],
        "LD_LIBRARY_PATH": os.environ["LD_LIBRARY_PATH"],
        "shared_file": shared.__file__, "init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
    }
"""


def _code(e: ClientError) -> tuple[str, str, int]:
    return (
        e.response["Error"]["Code"],
        e.response["Error"]["Message"],
        e.response["ResponseMetadata"]["HTTPStatusCode"],
    )


def _publish(lam: Any, name: str, files: dict[str, str], **kwargs: Any) -> Any:
    return lam.publish_layer_version(
        LayerName=name, Content={"ZipFile": make_zip(dict(files))}, **kwargs
    )


def _invoke(lam: Any, name: str, **kwargs: Any) -> Any:
    out = lam.invoke(FunctionName=name, Payload=b"{}", **kwargs)
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def test_layers_are_merged_read_only_at_opt_in_order(lambda_client: Any) -> None:
    a = _publish(lambda_client, unique_name("la"), FIRST, CompatibleRuntimes=[RUNTIME])
    b = _publish(lambda_client, unique_name("lb"), SECOND)
    arns = [a["LayerVersionArn"], b["LayerVersionArn"]]
    name = create_function(lambda_client, code=HANDLER, Layers=arns)
    config = lambda_client.get_function_configuration(FunctionName=name)
    assert config["Layers"] == [
        {"Arn": a["LayerVersionArn"], "CodeSize": a["Content"]["CodeSize"]},
        {"Arn": b["LayerVersionArn"], "CodeSize": b["Content"]["CodeSize"]},
    ]
    out = _invoke(lambda_client, name)
    assert out["liba"] == "from layer a" and out["libb"] == "from layer b"
    assert out["site"] == "site-packages of layer a"
    # The later layer wins where both have a file; the earlier one's other files stay.
    assert out["shared"] == "b" and out["both"] == "b\n" and out["only_a"] == "a\n"
    assert out["shared_file"] == "/opt/python/shared.py"
    assert out["write"] == "EROFS"
    assert out["path"] == ["/var/task", f"/opt/{SITE}", "/opt/python", "/var/runtime"]
    assert "/opt/bin" in out["PATH"].split(":")
    assert "/opt/lib" in out["LD_LIBRARY_PATH"].split(":")

    # The order is the function's: reversed, the first layer's file wins.
    lambda_client.update_function_configuration(FunctionName=name, Layers=arns[::-1])
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    out = _invoke(lambda_client, name)
    assert out["shared"] == "a" and out["both"] == "a\n"
    # Layers=[] removes them.
    lambda_client.update_function_configuration(FunctionName=name, Layers=[])
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    assert "Layers" not in lambda_client.get_function_configuration(FunctionName=name)
    failed = lambda_client.invoke(FunctionName=name, Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"
    assert "Runtime.ImportModuleError" in failed["Payload"].read().decode()


def test_snapshot_started_environments_have_the_layers(lambda_client: Any) -> None:
    a = _publish(lambda_client, unique_name("la"), FIRST)
    b = _publish(lambda_client, unique_name("lb"), SECOND)
    name = create_function(
        lambda_client,
        code=HANDLER,
        Layers=[a["LayerVersionArn"], b["LayerVersionArn"]],
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    out = _invoke(lambda_client, name, Qualifier=version)
    assert out["init"] == "snap-start"
    assert (out["liba"], out["libb"], out["shared"], out["write"]) == (
        "from layer a",
        "from layer b",
        "b",
        "EROFS",
    )


def test_layer_versions_in_lambdas_shapes(lambda_client: Any) -> None:
    layer = unique_name("layer")
    first = _publish(
        lambda_client,
        layer,
        FIRST,
        Description="one",
        LicenseInfo="MIT",
        CompatibleRuntimes=[RUNTIME],
        CompatibleArchitectures=["x86_64"],
    )
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    layer_arn = f"arn:aws:lambda:us-east-1:123456789012:layer:{layer}"
    assert first["LayerArn"] == layer_arn
    assert first["LayerVersionArn"] == f"{layer_arn}:1" and first["Version"] == 1
    assert first["Description"] == "one" and first["LicenseInfo"] == "MIT"
    assert first["CompatibleRuntimes"] == [RUNTIME]
    assert first["CompatibleArchitectures"] == ["x86_64"]
    assert first["CreatedDate"].endswith("+0000")
    package = make_zip(dict(FIRST))
    assert first["Content"]["CodeSize"] == len(package)
    with urllib.request.urlopen(first["Content"]["Location"]) as r:
        assert r.read() == package
    second = _publish(lambda_client, layer, SECOND)
    assert second["Version"] == 2 and second["CompatibleRuntimes"] == []

    got = lambda_client.get_layer_version(LayerName=layer, VersionNumber=1)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {
        k: v for k, v in first.items() if k != "ResponseMetadata"
    }
    assert lambda_client.get_layer_version(LayerName=layer_arn, VersionNumber=2)["Version"] == 2
    by_arn = lambda_client.get_layer_version_by_arn(Arn=f"{layer_arn}:2")
    assert by_arn["LayerVersionArn"] == f"{layer_arn}:2"

    listed = lambda_client.list_layer_versions(LayerName=layer)["LayerVersions"]
    assert [v["Version"] for v in listed] == [2, 1]
    assert "Content" not in listed[0] and "LayerArn" not in listed[0]
    compatible = lambda_client.list_layer_versions(LayerName=layer, CompatibleRuntime=RUNTIME)
    assert [v["Version"] for v in compatible["LayerVersions"]] == [1]
    paged = lambda_client.list_layer_versions(LayerName=layer, MaxItems=1)
    assert [v["Version"] for v in paged["LayerVersions"]] == [2]
    rest = lambda_client.list_layer_versions(LayerName=layer, Marker=paged["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1]
    assert lambda_client.list_layer_versions(LayerName=unique_name())["LayerVersions"] == []

    layers = {x["LayerName"]: x for x in lambda_client.list_layers()["Layers"]}
    assert layers[layer]["LayerArn"] == layer_arn
    assert layers[layer]["LatestMatchingVersion"]["Version"] == 2
    matching = {
        x["LayerName"]: x for x in lambda_client.list_layers(CompatibleRuntime=RUNTIME)["Layers"]
    }
    assert matching[layer]["LatestMatchingVersion"]["Version"] == 1

    # Deleted versions are gone, deleting is idempotent, numbers are never reused.
    deleted = lambda_client.delete_layer_version(LayerName=layer, VersionNumber=2)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    again = lambda_client.delete_layer_version(LayerName=layer, VersionNumber=2)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version(LayerName=layer, VersionNumber=2)
    assert _code(e.value) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
        404,
    )
    assert _publish(lambda_client, layer, SECOND)["Version"] == 3
    for call in (lambda_client.get_layer_version, lambda_client.delete_layer_version):
        with pytest.raises(ClientError) as e:
            call(LayerName=layer, VersionNumber=0)
        assert _code(e.value) == (
            "InvalidParameterValueException",
            "Layer Version Cannot be less than 1",
            400,
        )
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version_by_arn(Arn=layer_arn)
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_layer_packages_are_checked_like_function_code(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as e:
        _publish(lambda_client, unique_name(), {"../escape.py": "x = 1\n"})
    code, message, status = _code(e.value)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "outside" in message
    with pytest.raises(ClientError) as e:
        lambda_client.publish_layer_version(
            LayerName=unique_name(), Content={"ZipFile": b"not a zip"}
        )
    assert _code(e.value)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        _publish(lambda_client, unique_name(), FIRST, CompatibleArchitectures=["x86"])
    assert _code(e.value) == (
        "ValidationException",
        "1 validation error detected: Value '[x86]' at 'compatibleArchitectures' failed to "
        "satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value "
        "set: [x86_64, arm64], Member must not be null]",
        400,
    )


def test_a_functions_layers_are_refused_as_lambda_refuses_them(lambda_client: Any) -> None:
    layer = unique_name("layer")
    one = _publish(lambda_client, layer, FIRST)["LayerVersionArn"]
    two = _publish(lambda_client, layer, SECOND)["LayerVersionArn"]
    others = [
        _publish(lambda_client, unique_name(), {"x.txt": str(i)})["LayerVersionArn"]
        for i in range(5)
    ]
    missing = f"arn:aws:lambda:us-east-1:123456789012:layer:{unique_name()}:1"
    cases = {
        "Cannot reference more than 5 layers.": [one, *others],
        f"Layer version {missing} does not exist.": [missing],
        f"Layer version {one[:-1]}9 does not exist.": [one[:-1] + "9"],
        "Two different versions of the same layer are not allowed to be referenced in the "
        f"same function. {one} and {two} are versions of the same layer.": [one, two],
        "Layers are not in the same region as the function. Layers are expected to be in "
        "region us-east-1.": [one.replace("us-east-1", "eu-west-1")],
    }
    for message, arns in cases.items():
        with pytest.raises(ClientError) as e:
            create_function(lambda_client, code="def handler(e, c): pass\n", Layers=arns)
        assert _code(e.value) == ("InvalidParameterValueException", message, 400)
    name = create_function(lambda_client, code="def handler(e, c): pass\n")
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(FunctionName=name, Layers=[missing])
    assert _code(e.value)[1] == f"Layer version {missing} does not exist."
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(FunctionName=name, Layers=[one[:-2]])
    assert _code(e.value)[0] == "ValidationException"
    assert f"Value '[{one[:-2]}]' at 'layers' failed to satisfy constraint" in _code(e.value)[1]


def test_function_and_layers_together_stay_under_250_mb(lambda_client: Any) -> None:
    # 130 MB of zeros zips to about 130 KB; the two layers share the stored package.
    big = make_zip({"zeros.bin": bytes(130 * 1024 * 1024)})
    arns = [
        lambda_client.publish_layer_version(LayerName=unique_name(), Content={"ZipFile": big})[
            "LayerVersionArn"
        ]
        for _ in range(2)
    ]
    name = create_function(
        lambda_client, code="def handler(e, c):\n    return 1\n", Layers=arns[:1]
    )
    assert _invoke(lambda_client, name) == 1
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(FunctionName=name, Layers=arns)
    code, message, status = _code(e.value)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith(
        "Function code combined with layers exceeds the maximum allowed size of 262144000 "
        "bytes. The actual size is "
    )
    assert int(message.rsplit(" ", 2)[1]) > 2 * 130 * 1024 * 1024


def test_layer_version_policy(lambda_client: Any) -> None:
    layer = unique_name("layer")
    arn = _publish(lambda_client, layer, FIRST)["LayerVersionArn"]
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version_policy(LayerName=layer, VersionNumber=1)
    assert _code(e.value) == (
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
        404,
    )
    added = lambda_client.add_layer_version_permission(
        LayerName=layer,
        VersionNumber=1,
        StatementId="s1",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "s1",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:GetLayerVersion",
        "Resource": arn,
    }
    second = lambda_client.add_layer_version_permission(
        LayerName=layer,
        VersionNumber=1,
        StatementId="s2",
        Action="lambda:GetLayerVersion",
        Principal="210987654321",
        OrganizationId="o-abcdefghij",
        RevisionId=added["RevisionId"],
    )
    assert json.loads(second["Statement"])["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    policy = lambda_client.get_layer_version_policy(LayerName=layer, VersionNumber=1)
    assert policy["RevisionId"] == second["RevisionId"] != added["RevisionId"]
    doc = json.loads(policy["Policy"])
    assert (doc["Version"], doc["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in doc["Statement"]] == ["s1", "s2"]
    assert doc["Statement"][1]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}
    }
    errors = {
        "dup": (
            lambda: lambda_client.add_layer_version_permission(
                LayerName=layer,
                VersionNumber=1,
                StatementId="s1",
                Action="lambda:GetLayerVersion",
                Principal="*",
            ),
            ("ResourceConflictException", 409),
        ),
        "stale": (
            lambda: lambda_client.remove_layer_version_permission(
                LayerName=layer, VersionNumber=1, StatementId="s1", RevisionId=added["RevisionId"]
            ),
            ("PreconditionFailedException", 412),
        ),
        "unknown": (
            lambda: lambda_client.remove_layer_version_permission(
                LayerName=layer, VersionNumber=1, StatementId="nope"
            ),
            ("ResourceNotFoundException", 404),
        ),
        "no version": (
            lambda: lambda_client.get_layer_version_policy(LayerName=layer, VersionNumber=2),
            ("ResourceNotFoundException", 404),
        ),
        "action": (
            lambda: lambda_client.add_layer_version_permission(
                LayerName=layer, VersionNumber=1, StatementId="s3", Action="*", Principal="*"
            ),
            ("ValidationException", 400),
        ),
    }
    for label, (call, (code, status)) in errors.items():
        with pytest.raises(ClientError) as e:
            call()
        assert (_code(e.value)[0], _code(e.value)[2]) == (code, status), label
    assert _code(e.value)[1] == (
        "1 validation error detected: Value '*' at 'action' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: lambda:GetLayerVersion"
    )
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version_policy(LayerName=layer, VersionNumber=2)
    assert _code(e.value)[1] == f"Layer version {arn[:-1]}2 does not exist."
    removed = lambda_client.remove_layer_version_permission(
        LayerName=layer, VersionNumber=1, StatementId="s2"
    )
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    doc = json.loads(
        lambda_client.get_layer_version_policy(LayerName=layer, VersionNumber=1)["Policy"]
    )
    assert [s["Sid"] for s in doc["Statement"]] == ["s1"]


@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)
def test_layers_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    try:
        lam = first.client("lambda")
        layer = unique_name("layer")
        a = _publish(lam, layer, FIRST)
        _publish(lam, layer, SECOND)
        lam.delete_layer_version(LayerName=layer, VersionNumber=2)
        b = _publish(lam, unique_name("lb"), SECOND)
        lam.add_layer_version_permission(
            LayerName=layer,
            VersionNumber=1,
            StatementId="s1",
            Action="lambda:GetLayerVersion",
            Principal="*",
        )
        name = create_function(
            lam, code=HANDLER, Layers=[a["LayerVersionArn"], b["LayerVersionArn"]]
        )
        policy = lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)
        assert _invoke(lam, name)["shared"] == "b"
        # A function keeps a layer version deleted after it was given it, as on Lambda.
        lam.delete_layer_version(LayerName=b["LayerArn"], VersionNumber=1)
    finally:
        assert first.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    # Even if the merged /opt trees are lost, they are made again from the kept packages.
    for merged in (data_dir / "layers" / "opt").iterdir():
        shutil.rmtree(merged)
    second = start_server(data_dir)
    try:
        lam = second.client("lambda")
        got = lam.get_layer_version(LayerName=layer, VersionNumber=1)
        assert got["Content"]["CodeSha256"] == a["Content"]["CodeSha256"]
        assert [
            v["Version"] for v in lam.list_layer_versions(LayerName=layer)["LayerVersions"]
        ] == [1]
        again = lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)
        assert again == {**policy, "ResponseMetadata": again["ResponseMetadata"]}
        # The deleted version's number stays used.
        assert _publish(lam, layer, SECOND)["Version"] == 3
        out = _invoke(lam, name)
        assert (out["liba"], out["libb"], out["shared"]) == ("from layer a", "from layer b", "b")
        assert lam.list_layer_versions(LayerName=b["LayerArn"])["LayerVersions"] == []
        layers = lam.get_function_configuration(FunctionName=name)["Layers"]
        assert [x["Arn"] for x in layers] == [a["LayerVersionArn"], b["LayerVersionArn"]]
    finally:
        second.stop()


def test_publish_layer_version_with_the_aws_cli(server: Any, tmp_path: Path) -> None:
    package = tmp_path / "layer.zip"
    package.write_bytes(make_zip(dict(FIRST)))
    name = unique_name("cli")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "shoal",
        "AWS_SECRET_ACCESS_KEY": "shoal",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    r = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "aws"),
            "--endpoint-url",
            server.endpoint,
            "lambda",
            "publish-layer-version",
            "--layer-name",
            name,
            "--zip-file",
            f"fileb://{package}",
            "--compatible-runtimes",
            RUNTIME,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:123456789012:layer:{name}:1"
    assert out["CompatibleRuntimes"] == [RUNTIME]
