"""Regions as AWS has them: the region a request is signed for scopes state and ARNs.

A real server, real boto3 clients signing for eu-west-1 and us-east-1: the same names are
different resources in each, a resource is not found from another region, lists list only
their region's, and the region survives a restart and a database from before regions.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ShoalServer,
    create_function,
    default_subnet,
    shoal_urlopen,
    signed_request,
    start_server,
    unique_name,
)

EU, US = "eu-west-1", "us-east-1"
ACCOUNT = "123456789012"
REGION_CODE = "import os\ndef handler(e, c):\n    return os.environ['AWS_REGION']\n"

# conftest's ShoalServer.stop() leaves the server's stdout pipe open (its pump thread owns it);
# the GC then warns (as in test_function_persistence).
restarts = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)


def _status_by_host(server: Any, host: str) -> int:
    """The status of a GET of "/" that names its API or URL by ``host`` alone."""
    request = urllib.request.Request(f"{server.endpoint}/", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def _error(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response: Any = e.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_one_name_two_functions(server: ShoalServer) -> None:
    eu, us = server.client("lambda", region=EU), server.client("lambda", region=US)
    name = unique_name()
    create_function(eu, name, code=REGION_CODE)
    create_function(us, name, code="def handler(e, c):\n    return 'us'\n")

    eu_arn = eu.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    us_arn = us.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert eu_arn == f"arn:aws:lambda:{EU}:{ACCOUNT}:function:{name}"
    assert us_arn == f"arn:aws:lambda:{US}:{ACCOUNT}:function:{name}"
    eu_names = {f["FunctionArn"] for f in eu.list_functions(MaxItems=50)["Functions"]}
    assert eu_arn in eu_names and not any(f":{US}:" in arn for arn in eu_names)
    us_names = {f["FunctionArn"] for f in us.list_functions(MaxItems=50)["Functions"]}
    assert us_arn in us_names and eu_arn not in us_names

    # The function runs in its own region, and each name invokes its own region's function.
    assert json.loads(eu.invoke(FunctionName=name)["Payload"].read()) == EU
    assert json.loads(us.invoke(FunctionName=name)["Payload"].read()) == "us"
    env = eu.get_function_configuration(FunctionName=name)
    assert env["FunctionArn"] == eu_arn

    # One name, two log groups: each region's function logs apart.
    def logs(region: str) -> str:
        url = f"{server.endpoint}/shoal/logs/{name}?region={region}"
        with shoal_urlopen(url, timeout=60) as r:
            return "".join(e["message"] for e in json.loads(r.read())["events"])

    eu.invoke(FunctionName=name, Payload=b'"eu-marker"')
    assert "eu-marker" not in logs(US) and "START" in logs(EU) and "START" in logs(US)
    assert logs(EU).count("START") == 2 and logs(US).count("START") == 1

    # Another region's ARN is not found, nor is a name that only another region has.
    other = unique_name()
    create_function(eu, other, code=REGION_CODE)
    with pytest.raises(ClientError) as e:
        us.get_function(FunctionName=other)
    assert _error(e) == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        us.get_function(FunctionName=f"arn:aws:lambda:{EU}:{ACCOUNT}:function:{other}")
    assert _error(e) == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        server.client("lambda", region="us-west-2").invoke(FunctionName=other)
    assert _error(e) == (404, "ResourceNotFoundException")

    # Versions, aliases and deletion stay in their region.
    assert eu.publish_version(FunctionName=name)["FunctionArn"] == f"{eu_arn}:1"
    alias = eu.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert alias["AliasArn"] == f"{eu_arn}:live"
    with pytest.raises(ClientError) as e:
        us.get_alias(FunctionName=name, Name="live")
    assert _error(e) == (404, "ResourceNotFoundException")
    us.delete_function(FunctionName=name)
    assert eu.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == eu_arn
    eu.delete_function(FunctionName=name)
    eu.delete_function(FunctionName=other)


def test_per_function_state_is_per_region(server: ShoalServer) -> None:
    """Permissions, URLs and event invoke configs of one name in two regions are apart."""
    eu, us = server.client("lambda", region=EU), server.client("lambda", region=US)
    name = unique_name()
    for client in (eu, us):
        create_function(client, name, code=REGION_CODE)
    added = eu.add_permission(
        FunctionName=name, StatementId="s1", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
    )  # fmt: skip
    assert json.loads(added["Statement"])["Resource"].startswith(f"arn:aws:lambda:{EU}:")
    with pytest.raises(ClientError) as e:
        us.get_policy(FunctionName=name)
    assert _error(e) == (404, "ResourceNotFoundException")

    # The account's concurrency is per region: a reservation in one leaves another's alone.
    def unreserved(client: Any) -> int:
        limits = client.get_account_settings()["AccountLimit"]
        return int(limits["UnreservedConcurrentExecutions"])

    eu_before, us_before = unreserved(eu), unreserved(us)
    eu.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert (unreserved(eu), unreserved(us)) == (eu_before - 5, us_before)
    assert "Concurrency" not in us.get_function(FunctionName=name)
    eu.delete_function_concurrency(FunctionName=name)

    eu.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    config = eu.get_function_event_invoke_config(FunctionName=name)
    assert config["FunctionArn"].startswith(f"arn:aws:lambda:{EU}:")
    with pytest.raises(ClientError) as e:
        us.get_function_event_invoke_config(FunctionName=name)
    assert _error(e) == (404, "ResourceNotFoundException")

    eu_url = eu.create_function_url_config(FunctionName=name, AuthType="NONE")
    us_url = us.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert eu_url["FunctionUrl"] != us_url["FunctionUrl"]
    with urllib.request.urlopen(eu_url["FunctionUrl"], timeout=60) as response:
        assert response.read().decode() == EU
    # A function URL's host names its region: another region's name does not reach it.
    url_id = eu_url["FunctionUrl"].rstrip("/").rsplit("/", 1)[-1]
    port = server.endpoint.rsplit(":", 1)[-1]
    for region, status in ((EU, 200), (US, 403)):
        assert _status_by_host(server, f"{url_id}.lambda-url.{region}.localhost:{port}") == status
    for client in (eu, us):
        client.delete_function(FunctionName=name)


def test_layers_and_code_signing_are_per_region(server: ShoalServer) -> None:
    from conftest import make_zip

    eu, us = server.client("lambda", region=EU), server.client("lambda", region=US)
    layer = unique_name("layer")
    published = eu.publish_layer_version(
        LayerName=layer, Content={"ZipFile": make_zip({"python/x.py": "X = 1\n"})}
    )
    assert published["LayerVersionArn"] == f"arn:aws:lambda:{EU}:{ACCOUNT}:layer:{layer}:1"
    assert layer not in {x["LayerName"] for x in us.list_layers()["Layers"]}
    assert layer in {x["LayerName"] for x in eu.list_layers()["Layers"]}
    with pytest.raises(ClientError) as e:
        us.get_layer_version(LayerName=layer, VersionNumber=1)
    assert _error(e) == (404, "ResourceNotFoundException")
    # A function takes layers of its own region only.
    with pytest.raises(ClientError) as e:
        create_function(us, unique_name(), code=REGION_CODE,
                        Layers=[published["LayerVersionArn"]])  # fmt: skip
    assert _error(e) == (400, "InvalidParameterValueException")

    csc = eu.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [
            f"arn:aws:signer:{EU}:{ACCOUNT}:/signing-profiles/p/abc"]},
    )["CodeSigningConfig"]  # fmt: skip
    assert csc["CodeSigningConfigArn"].startswith(f"arn:aws:lambda:{EU}:")
    assert csc["CodeSigningConfigArn"] not in {
        c["CodeSigningConfigArn"] for c in us.list_code_signing_configs()["CodeSigningConfigs"]
    }
    with pytest.raises(ClientError) as e:
        us.get_code_signing_config(CodeSigningConfigArn=csc["CodeSigningConfigArn"])
    assert _error(e) == (404, "ResourceNotFoundException")


def test_file_systems_are_per_region(server: ShoalServer) -> None:
    eu, us = server.client("efs", region=EU), server.client("efs", region=US)
    token = unique_name("tok")
    fs = eu.create_file_system(CreationToken=token)
    assert fs["FileSystemArn"] == (
        f"arn:aws:elasticfilesystem:{EU}:{ACCOUNT}:file-system/{fs['FileSystemId']}"
    )
    fs_id = fs["FileSystemId"]
    # The same creation token is another file system in another region.
    twin = us.create_file_system(CreationToken=token)
    assert twin["FileSystemId"] != fs_id
    with pytest.raises(ClientError) as e:
        us.describe_file_systems(FileSystemId=fs_id)
    assert _error(e) == (404, "FileSystemNotFound")
    assert fs_id not in {f["FileSystemId"] for f in us.describe_file_systems()["FileSystems"]}
    assert [f["FileSystemId"] for f in us.describe_file_systems(CreationToken=token)[
        "FileSystems"]] == [twin["FileSystemId"]]  # fmt: skip

    ap = eu.create_access_point(FileSystemId=fs_id)
    assert ap["AccessPointArn"].startswith(f"arn:aws:elasticfilesystem:{EU}:")
    with pytest.raises(ClientError) as e:
        us.describe_access_points(AccessPointId=ap["AccessPointId"])
    assert _error(e) == (404, "AccessPointNotFound")
    with pytest.raises(ClientError) as e:
        us.create_access_point(FileSystemId=fs_id)
    assert _error(e) == (404, "FileSystemNotFound")

    # Mount targets: on the file system's region's subnets only.
    with pytest.raises(ClientError) as e:
        eu.create_mount_target(FileSystemId=fs_id, SubnetId=default_subnet(server, f"{US}a"))
    assert _error(e)[1] == "SubnetNotFound"
    target = eu.create_mount_target(FileSystemId=fs_id, SubnetId=default_subnet(server, f"{EU}b"))
    assert target["AvailabilityZoneName"] == f"{EU}b"
    assert target["AvailabilityZoneId"] == "euw1-az2"
    with pytest.raises(ClientError) as e:
        us.describe_mount_targets(MountTargetId=target["MountTargetId"])
    assert _error(e) == (404, "MountTargetNotFound")
    eu.delete_mount_target(MountTargetId=target["MountTargetId"])
    eu.delete_access_point(AccessPointId=ap["AccessPointId"])
    eu.delete_file_system(FileSystemId=fs_id)
    us.delete_file_system(FileSystemId=twin["FileSystemId"])


def test_a_default_vpc_per_region(server: ShoalServer) -> None:
    eu, us = server.client("ec2", region=EU), server.client("ec2", region=US)
    eu_subnets = eu.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    us_subnets = us.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    assert sorted(s["AvailabilityZone"] for s in eu_subnets["Subnets"]) == [
        f"{EU}a", f"{EU}b", f"{EU}c"
    ]  # fmt: skip
    assert len(us_subnets["Subnets"]) == 6
    eu_vpc = {s["VpcId"] for s in eu_subnets["Subnets"]}
    us_vpc = {s["VpcId"] for s in us_subnets["Subnets"]}
    assert len(eu_vpc) == len(us_vpc) == 1 and eu_vpc != us_vpc


def test_http_apis_are_per_region(server: ShoalServer) -> None:
    eu, us = server.client("apigatewayv2", region=EU), server.client("apigatewayv2", region=US)
    lam = server.client("lambda", region=EU)
    name = unique_name()
    create_function(lam, name, code=(
        "import os, json\ndef handler(e, c):\n"
        "    return {'statusCode': 200, 'body': os.environ['AWS_REGION']}\n"
    ))  # fmt: skip
    # A bare function name in the integration is the API's region's function.
    api = eu.create_api(Name=unique_name("api"), ProtocolType="HTTP", Target=name)
    api_id = api["ApiId"]
    assert api_id not in {a["ApiId"] for a in us.get_apis()["Items"]}
    assert api_id in {a["ApiId"] for a in eu.get_apis()["Items"]}
    with pytest.raises(ClientError) as e:
        us.get_api(ApiId=api_id)
    assert _error(e) == (404, "NotFoundException")
    with pytest.raises(ClientError) as e:
        us.get_routes(ApiId=api_id)
    assert _error(e) == (404, "NotFoundException")
    with urllib.request.urlopen(f"{api['ApiEndpoint']}/", timeout=60) as response:
        assert response.read().decode() == EU
    port = server.endpoint.rsplit(":", 1)[-1]
    for region, status in ((EU, 200), (US, 404)):
        assert _status_by_host(server, f"{api_id}.execute-api.{region}.localhost:{port}") == status
    eu.delete_api(ApiId=api_id)
    lam.delete_function(FunctionName=name)


def test_a_scope_names_the_region(server: ShoalServer) -> None:
    name = unique_name()
    create_function(server.client("lambda", region=EU), name, code=REGION_CODE)
    url = f"{server.endpoint}/2015-03-31/functions/"
    with urllib.request.urlopen(signed_request("GET", url), timeout=60) as r:
        listed = {f["FunctionName"] for f in json.loads(r.read())["Functions"]}
    assert name not in listed  # us-east-1, the server's default
    server.client("lambda", region=EU).delete_function(FunctionName=name)


@restarts
def test_regions_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    try:
        eu = first.client("lambda", region=EU)
        create_function(eu, "same", code=REGION_CODE)
        create_function(first.client("lambda", region=US), "same", code=REGION_CODE)
        fs_id = first.client("efs", region=EU).create_file_system(CreationToken="t")["FileSystemId"]
    finally:
        first.stop()
    second = start_server(data_dir)
    try:
        eu, us = second.client("lambda", region=EU), second.client("lambda", region=US)
        arn = eu.get_function(FunctionName="same")["Configuration"]["FunctionArn"]
        assert arn == f"arn:aws:lambda:{EU}:{ACCOUNT}:function:same"
        assert json.loads(eu.invoke(FunctionName="same")["Payload"].read()) == EU
        assert json.loads(us.invoke(FunctionName="same")["Payload"].read()) == US
        described = second.client("efs", region=EU).describe_file_systems(FileSystemId=fs_id)
        assert described["FileSystems"][0]["FileSystemArn"].split(":")[3] == EU
        with pytest.raises(ClientError) as e:
            second.client("efs", region=US).describe_file_systems(FileSystemId=fs_id)
        assert _error(e) == (404, "FileSystemNotFound")
    finally:
        second.stop()


def _as_before_regions(db: Path) -> None:
    """Rewrite the database as Shoal wrote it before regions: ``resources`` keyed by (kind,
    key), no region column, per-function state keyed by the function's name."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT kind, region, key, doc FROM resources").fetchall()
        conn.execute("DROP TABLE resources")
        conn.execute(
            "CREATE TABLE resources (kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, "
            "PRIMARY KEY (kind, key))"
        )
        prefix = f"arn:aws:lambda:{US}:{ACCOUNT}:function:"
        for kind, _, key, doc in rows:
            if kind == "lambdapolicy":
                key = key.removeprefix(prefix)
            elif kind == "event-invoke-config":
                data = json.loads(doc)
                data["function"] = data["function"].removeprefix(prefix)
                key, doc = f"{data['function']}:{data['qualifier']}", json.dumps(data)
            conn.execute("INSERT INTO resources(kind, key, doc) VALUES (?, ?, ?)", (kind, key, doc))
        conn.commit()
    finally:
        conn.close()


@restarts
def test_a_database_from_before_regions_is_the_default_regions(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    try:
        us = first.client("lambda", region=US)
        create_function(us, "old", code=REGION_CODE, Tags={"t": "1"})
        us.add_permission(FunctionName="old", StatementId="s1", Action="lambda:InvokeFunction",
                          Principal="events.amazonaws.com")  # fmt: skip
        us.put_function_event_invoke_config(FunctionName="old", MaximumRetryAttempts=1)
        us.invoke(FunctionName="old")
        fs_id = first.client("efs", region=US).create_file_system(CreationToken="t")["FileSystemId"]
    finally:
        first.stop()
    _as_before_regions(data_dir / "shoal.db")
    # Logs as kept before regions (JSON lines per stream, in logs/<function>/), in place of
    # the first run's: moved into the log database at start, as the default region's.
    logs = data_dir / "logs"
    for db in logs.glob("logs.db*"):
        db.unlink()
    (logs / "old").mkdir()
    line = json.dumps({"timestamp": int(time.time() * 1000) - 1000, "message": "START old"})
    (logs / "old" / "2024%2F01%2F01%2F%5B%24LATEST%5Dabc.log").write_text(line + "\n")
    second = start_server(data_dir)
    try:
        us, eu = second.client("lambda", region=US), second.client("lambda", region=EU)
        got = us.get_function(FunctionName="old")
        assert got["Configuration"]["FunctionArn"] == f"arn:aws:lambda:{US}:{ACCOUNT}:function:old"
        assert got["Tags"] == {"t": "1"}
        policy = json.loads(us.get_policy(FunctionName="old")["Policy"])
        assert [s["Sid"] for s in policy["Statement"]] == ["s1"]
        assert us.get_function_event_invoke_config(FunctionName="old")["MaximumRetryAttempts"] == 1
        assert json.loads(us.invoke(FunctionName="old")["Payload"].read()) == US
        with shoal_urlopen(f"{second.endpoint}/shoal/logs/old", timeout=60) as r:
            events = json.loads(r.read())["events"]
        assert sum("START" in e["message"] for e in events) == 2  # before and after
        with pytest.raises(ClientError) as e:
            eu.get_function(FunctionName="old")
        assert _error(e) == (404, "ResourceNotFoundException")
        create_function(eu, "old", code=REGION_CODE)  # the name is free in another region
        assert second.client("efs", region=US).describe_file_systems(FileSystemId=fs_id)
    finally:
        second.stop()
    conn = sqlite3.connect(data_dir / "shoal.db")
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(resources)")]
        regions = dict(conn.execute(
            "SELECT region, COUNT(*) FROM resources WHERE kind = 'function' GROUP BY region"
        ).fetchall())  # fmt: skip
    finally:
        conn.close()
    assert "region" in columns
    assert regions == {US: 1, EU: 1}
