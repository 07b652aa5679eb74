"""Function management through boto3 against a real server: every operation and error."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, RUNTIME, create_function, make_zip, signed_request, unique_name

HANDLER_CODE = "def handler(event, context):\n    return event\n"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def wait_updated(lambda_client, name: str) -> None:  # type: ignore[no-untyped-def]
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )


def raw(server, method: str, path: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    """A request without botocore (which validates client-side): (status, headers, json)."""
    data = json.dumps(body).encode() if body is not None else None
    request = signed_request(method, server.endpoint + path, data or b"",
                             headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, json.loads(e.read() or b"{}")


def test_create_is_pending_then_active(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = unique_name()
    package = make_zip({"app.py": HANDLER_CODE})
    created = lambda_client.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": package},
        Description="d",
        MemorySize=256,
        Timeout=30,
        Environment={"Variables": {"GREETING": "hi"}},
        EphemeralStorage={"Size": 1024},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert created["CodeSize"] == len(package)
    assert created["Version"] == "$LATEST"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", created["LastModified"])
    assert uuid.UUID(created["RevisionId"]).version == 4
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    config = lambda_client.get_function_configuration(FunctionName=name)
    assert config["State"] == "Active"
    assert config["LastUpdateStatus"] == "Successful"
    assert config["RevisionId"] != created["RevisionId"]
    assert (config["MemorySize"], config["Timeout"], config["Description"]) == (256, 30, "d")
    assert config["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert config["EphemeralStorage"] == {"Size": 1024}
    assert config["Handler"] == "app.handler" and config["Runtime"] == RUNTIME


def test_get_function_serves_the_code_and_tags(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE, Tags={"team": "fish"})
    got = lambda_client.get_function(FunctionName=name)
    assert got["Configuration"]["FunctionName"] == name
    assert got["Code"]["RepositoryType"] == "S3"
    assert got["Tags"] == {"team": "fish"}
    location = got["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=30) as response:
        assert response.read() == make_zip({"app.py": HANDLER_CODE})
    # Presigned for ten minutes, as Lambda's S3 URLs are, and for that package alone.
    assert "X-Amz-Expires=600" in location and "X-Amz-Signature=" in location
    other = create_function(lambda_client, code="def handler(e, c):\n    return 'secret'\n")
    other_path = lambda_client.get_function(FunctionName=other)["Code"]["Location"].split("?")[0]
    forged = other_path + "?" + location.split("?", 1)[1]
    for url in (forged, location.split("?")[0]):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, timeout=30)
        with e.value:
            assert e.value.code == 403


def test_every_spelling_of_a_function_name(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE)
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    for spelling in (name, arn, f"123456789012:function:{name}"):
        assert (
            lambda_client.get_function_configuration(FunctionName=spelling)["Version"] == "$LATEST"
        )
    for spelling, qualifier in (
        (f"{name}:{version}", None),
        (f"{arn}:{version}", None),
        (name, version),
        (f"{name}:{version}", version),
    ):
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        config = lambda_client.get_function_configuration(FunctionName=spelling, **kwargs)
        assert config["Version"] == version
        assert config["FunctionArn"] == f"{arn}:{version}"
    latest = lambda_client.get_function_configuration(FunctionName=name, Qualifier="$LATEST")
    assert latest["FunctionArn"] == f"{arn}:$LATEST"
    with pytest.raises(ClientError) as e:
        lambda_client.get_function_configuration(
            FunctionName=f"{name}:{version}", Qualifier="$LATEST"
        )
    assert error_of(e) == (
        "InvalidParameterValueException",
        400,
        "The derived qualifier from the function name does not match the specified qualifier.",
    )


def test_missing_function_and_version(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("missing")
    with pytest.raises(ClientError) as e:
        lambda_client.get_function(FunctionName=name)
    assert error_of(e) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}",
    )
    existing = create_function(lambda_client, code=HANDLER_CODE)
    with pytest.raises(ClientError) as e:
        lambda_client.get_function(FunctionName=existing, Qualifier="42")
    assert error_of(e) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{existing}:42",
    )


def test_duplicate_name_is_a_conflict(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE)
    with pytest.raises(ClientError) as e:
        create_function(lambda_client, name=name, code=HANDLER_CODE)
    assert error_of(e) == ("ResourceConflictException", 409, f"Function already exist: {name}")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (
            {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
            "Reserved keys used in this request: AWS_REGION",
        ),
        (
            {"Environment": {"Variables": {"BIG": "x" * 5000}}},
            "exceeded the 4KB limit. String measured: ",
        ),
        (
            {"Runtime": "python3.6"} if RUNTIME != "python3.6" else {"Runtime": "python3.14"},
            "Installed runtimes: ",
        ),
        (
            {
                "FileSystemConfigs": [
                    {
                        "Arn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/"
                        "fsap-0123456789abcdef0",
                        "LocalMountPath": "/mnt/data",
                    }
                ]
            },
            "fsap-0123456789abcdef0",
        ),
    ],
)
def test_invalid_configuration_values(lambda_client, kwargs, fragment) -> None:  # type: ignore[no-untyped-def]
    if "Runtime" in kwargs and kwargs["Runtime"] == "python3.6":
        kwargs = {"Runtime": "nodejs20.x"}  # never a Python runtime Shoal can have installed
    with pytest.raises(ClientError) as e:
        create_function(lambda_client, code=HANDLER_CODE, **kwargs)
    code, status, message = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert fragment in message


@pytest.mark.parametrize(
    "package",
    [b"this is no zip", make_zip({"../escape.py": "x"}), make_zip({"/etc/cron.d/x": "x"})],
)
def test_bad_packages_are_refused(lambda_client, package: bytes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        lambda_client.create_function(
            FunctionName=unique_name(),
            Runtime=RUNTIME,
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": package},
        )
    code, status, message = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith(
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )


@pytest.mark.parametrize(
    ("member", "value", "constraint"),
    [
        ("Timeout", 0, "greater than or equal to 1"),
        ("Timeout", 901, "less than or equal to 900"),
        ("MemorySize", 10241, "less than or equal to 10240"),
        ("MemorySize", 64, "greater than or equal to 128"),
    ],
)
def test_server_validates_ranges(server, member: str, value: int, constraint: str) -> None:  # type: ignore[no-untyped-def]
    body = {
        "FunctionName": unique_name(),
        "Runtime": RUNTIME,
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": base64.b64encode(make_zip({"app.py": ""})).decode()},
        member: value,
    }
    status, headers, doc = raw(server, "POST", "/2015-03-31/functions", body)
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    message = doc.get("message") or doc.get("Message")
    assert message.startswith("1 validation error detected: ")
    assert constraint in message


def test_error_bodies_follow_the_model(server) -> None:  # type: ignore[no-untyped-def]
    status, headers, doc = raw(server, "GET", f"/2015-03-31/functions/{unique_name()}")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "ResourceNotFoundException")
    assert doc["Type"] == "User" and doc["Message"].startswith("Function not found: ")
    body = {
        "FunctionName": unique_name(),
        "Runtime": RUNTIME,
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": base64.b64encode(b"nozip").decode()},
    }
    status, headers, doc = raw(server, "POST", "/2015-03-31/functions", body)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidParameterValueException")
    assert doc["Type"] == "User" and doc["message"].startswith("Could not unzip")


def test_list_functions_paginates(lambda_client) -> None:  # type: ignore[no-untyped-def]
    mine = {
        create_function(lambda_client, name=unique_name("page"), code=HANDLER_CODE)
        for _ in range(5)
    }
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        kwargs = {"Marker": marker} if marker else {}
        page = lambda_client.list_functions(MaxItems=2, **kwargs)
        assert len(page["Functions"]) <= 2
        seen.extend(f["FunctionName"] for f in page["Functions"])
        pages += 1
        marker = page.get("NextMarker")
        if not marker:
            break
    assert pages >= 3
    assert len(seen) == len(set(seen)), "a function was listed twice"
    assert mine <= set(seen)
    assert seen == sorted(seen)


def test_list_functions_all_versions(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE)
    lambda_client.publish_version(FunctionName=name)
    everything = [
        f
        for page in lambda_client.get_paginator("list_functions").paginate(FunctionVersion="ALL")
        for f in page["Functions"]
        if f["FunctionName"] == name
    ]
    assert [f["Version"] for f in everything] == ["$LATEST", "1"]
    latest_only = [
        f
        for page in lambda_client.get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if f["FunctionName"] == name
    ]
    assert [f["Version"] for f in latest_only] == ["$LATEST"]


def test_update_configuration(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE)
    before = lambda_client.get_function_configuration(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(
            FunctionName=name, Timeout=5, RevisionId=str(uuid.uuid4())
        )
    code, status, _ = error_of(e)
    assert (code, status) == ("PreconditionFailedException", 412)
    updated = lambda_client.update_function_configuration(
        FunctionName=name,
        RevisionId=before["RevisionId"],
        Timeout=60,
        MemorySize=512,
        Handler="app.other",
        Description="new",
        Environment={"Variables": {"MODE": "x"}},
        EphemeralStorage={"Size": 2048},
    )
    assert updated["LastUpdateStatus"] == "InProgress"
    wait_updated(lambda_client, name)
    after = lambda_client.get_function_configuration(FunctionName=name)
    assert after["LastUpdateStatus"] == "Successful"
    assert (after["Timeout"], after["MemorySize"], after["Handler"], after["Description"]) == (
        60,
        512,
        "app.other",
        "new",
    )
    assert after["Environment"] == {"Variables": {"MODE": "x"}}
    assert after["EphemeralStorage"] == {"Size": 2048}
    assert after["CodeSha256"] == before["CodeSha256"]
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"AWS_LAMBDA_FUNCTION_NAME": "x"}}
        )
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)


def test_update_code_publish_and_dry_run(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE)
    before = lambda_client.get_function_configuration(FunctionName=name)
    package = make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
    dry = lambda_client.update_function_code(FunctionName=name, ZipFile=package, DryRun=True)
    assert dry["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert (
        lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"]
        == before["CodeSha256"]
    )
    published = lambda_client.update_function_code(FunctionName=name, ZipFile=package, Publish=True)
    assert published["Version"] == "1"
    wait_updated(lambda_client, name)
    latest = lambda_client.get_function_configuration(FunctionName=name)
    assert latest["CodeSha256"] == dry["CodeSha256"]
    assert latest["CodeSize"] == len(package)
    version = lambda_client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert version["CodeSha256"] == dry["CodeSha256"] and version["State"] == "Active"
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_code(FunctionName=name, ZipFile=b"garbage")
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)


def test_update_while_in_progress_is_a_conflict(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE)
    # Thousands of files keep the unpacking (and so the update) in progress for a while.
    files = {f"pkg/m{i}.py": f"X = {i}\n" for i in range(4000)}
    files["app.py"] = HANDLER_CODE + f"# {uuid.uuid4()}\n"
    lambda_client.update_function_code(FunctionName=name, ZipFile=make_zip(files))
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(FunctionName=name, Timeout=9)
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert error_of(e) == (
        "ResourceConflictException",
        409,
        "The operation cannot be performed at this time. An update is in "
        f"progress for resource: {arn}",
    )
    wait_updated(lambda_client, name)
    lambda_client.update_function_configuration(FunctionName=name, Timeout=9)
    wait_updated(lambda_client, name)
    assert lambda_client.get_function_configuration(FunctionName=name)["Timeout"] == 9


def test_publish_version(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE)
    latest = lambda_client.get_function_configuration(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lambda_client.publish_version(FunctionName=name, CodeSha256="bm90IGl0")
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as e:
        lambda_client.publish_version(FunctionName=name, RevisionId=str(uuid.uuid4()))
    assert error_of(e)[:2] == ("PreconditionFailedException", 412)
    v1 = lambda_client.publish_version(
        FunctionName=name,
        CodeSha256=latest["CodeSha256"],
        RevisionId=latest["RevisionId"],
        Description="first",
    )
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (v1["Version"], v1["Description"]) == ("1", "first")
    assert v1["FunctionArn"].endswith(f":{name}:1")
    # Nothing changed since: Lambda answers with the version it already has.
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "1"
    lambda_client.update_function_configuration(FunctionName=name, Timeout=7)
    wait_updated(lambda_client, name)
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "2"
    versions = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert [v["Timeout"] for v in versions] == [7, 3, 7]
    page = lambda_client.list_versions_by_function(FunctionName=name, MaxItems=2)
    assert len(page["Versions"]) == 2 and page["NextMarker"]
    rest = lambda_client.list_versions_by_function(FunctionName=name, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"] and "NextMarker" not in rest


def test_delete_versions_and_functions(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE)
    lambda_client.publish_version(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lambda_client.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert error_of(e) == (
        "InvalidParameterValueException",
        400,
        "$LATEST version cannot be deleted without deleting the function.",
    )
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        lambda_client.delete_function(FunctionName=name, Qualifier="1")
    assert error_of(e)[:2] == ("ResourceConflictException", 409)
    lambda_client.delete_alias(FunctionName=name, Name="live")
    lambda_client.delete_function(FunctionName=name, Qualifier="1")
    versions = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]
    with pytest.raises(ClientError) as e:
        lambda_client.delete_function(FunctionName=name, Qualifier="1")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    # Version numbers are never reused.
    lambda_client.update_function_configuration(FunctionName=name, Timeout=4)
    wait_updated(lambda_client, name)
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "2"
    lambda_client.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lambda_client.get_function(FunctionName=name)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        lambda_client.delete_function(FunctionName=name)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_aliases(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.update_function_configuration(FunctionName=name, Timeout=8)
    wait_updated(lambda_client, name)
    lambda_client.publish_version(FunctionName=name)
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    alias = lambda_client.create_alias(
        FunctionName=name, Name="live", FunctionVersion="1", Description="prod"
    )
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (alias["AliasArn"], alias["FunctionVersion"], alias["Description"]) == (
        f"{arn}:live",
        "1",
        "prod",
    )
    with pytest.raises(ClientError) as e:
        lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert error_of(e)[:2] == ("ResourceConflictException", 409)
    with pytest.raises(ClientError) as e:
        lambda_client.create_alias(FunctionName=name, Name="bad", FunctionVersion="9")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    # The alias resolves to its version wherever a qualifier is taken.
    assert lambda_client.get_function_configuration(FunctionName=f"{name}:live")["Timeout"] == 3
    assert (
        lambda_client.get_function(FunctionName=name, Qualifier="live")["Configuration"]["Version"]
        == "1"
    )
    with pytest.raises(ClientError) as e:
        lambda_client.update_alias(
            FunctionName=name, Name="live", FunctionVersion="2", RevisionId=str(uuid.uuid4())
        )
    assert error_of(e)[:2] == ("PreconditionFailedException", 412)
    updated = lambda_client.update_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="2",
        RevisionId=alias["RevisionId"],
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}},
    )
    assert updated["FunctionVersion"] == "2"
    assert updated["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    assert updated["RevisionId"] != alias["RevisionId"]
    got = lambda_client.get_alias(FunctionName=name, Name="live")
    # Each answer names its own request (x-amzn-RequestId): compare everything else.
    assert got.pop("ResponseMetadata")["RequestId"] != updated.pop("ResponseMetadata")["RequestId"]
    assert got == updated
    lambda_client.create_alias(FunctionName=name, Name="canary", FunctionVersion="$LATEST")
    assert [a["Name"] for a in lambda_client.list_aliases(FunctionName=name)["Aliases"]] == [
        "canary",
        "live",
    ]
    assert [
        a["Name"]
        for a in lambda_client.list_aliases(FunctionName=name, FunctionVersion="2")["Aliases"]
    ] == ["live"]
    first = lambda_client.list_aliases(FunctionName=name, MaxItems=1)
    second = lambda_client.list_aliases(FunctionName=name, Marker=first["NextMarker"])
    assert [a["Name"] for a in first["Aliases"] + second["Aliases"]] == ["canary", "live"]
    lambda_client.delete_alias(FunctionName=name, Name="canary")
    with pytest.raises(ClientError) as e:
        lambda_client.get_alias(FunctionName=name, Name="canary")
    assert error_of(e) == ("ResourceNotFoundException", 404, f"Cannot find alias arn: {arn}:canary")


def test_tags(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=HANDLER_CODE, Tags={"a": "1"})
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    lambda_client.tag_resource(Resource=arn, Tags={"b": "2", "c": "3"})
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2", "c": "3"}
    lambda_client.untag_resource(Resource=arn, TagKeys=["a", "c"])
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    assert lambda_client.get_function(FunctionName=name)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as e:
        lambda_client.list_tags(Resource=arn + "-nope")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_account_settings(lambda_client) -> None:  # type: ignore[no-untyped-def]
    create_function(lambda_client, code=HANDLER_CODE)
    settings = lambda_client.get_account_settings()
    assert settings["AccountLimit"]["CodeSizeUnzipped"] == 262144000
    assert settings["AccountLimit"]["ConcurrentExecutions"] >= 1
    assert settings["AccountUsage"]["FunctionCount"] >= 1
    assert settings["AccountUsage"]["TotalCodeSize"] > 0
