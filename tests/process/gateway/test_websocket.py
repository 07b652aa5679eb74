"""WebSocket APIs against a real server: managed with boto3, connected to with the
``websockets`` library, functions in real sandboxes; the ``@connections`` API through boto3's
``apigatewaymanagementapi``; API Gateway's quotas and idle timeout (shortened by the server
setting)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from conftest import (
    ShoalServer,
    create_function,
    signed_headers,
    start_server,
    unique_name,
    wait_for,
)

IDLE_S = 10

ECHO = """
import json

def handler(event, context):
    ctx = event["requestContext"]
    if ctx["eventType"] == "CONNECT":
        query = event.get("queryStringParameters") or {}
        if query.get("deny"):
            return {"statusCode": 403, "body": "not you"}
        if query.get("show"):  # refused, with the event as the refusal's body
            return {"statusCode": 418, "body": json.dumps(event)}
        offered = event["headers"].get("Sec-WebSocket-Protocol", "")  # as API Gateway spells it
        if "chat.v2" in offered:
            return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat.v2"}}
        return {"statusCode": 200}
    if event.get("body") == "fail":
        raise RuntimeError("asked to")
    return {"statusCode": 200, "body": json.dumps(event)}
"""

# Allows "let-me-in" (header or query string) to $connect; its context reaches every event.
AUTHORIZER = """
def handler(event, context):
    allowed = event["identitySource"] == "let-me-in"
    return {"principalId": "alice", "context": {"user": "alice", "type": event["type"],
            "arn": event["methodArn"]}, "policyDocument": {"Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny",
                           "Resource": event["methodArn"]}]}}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    server = start_server(
        tmp_path_factory.mktemp("ws-data"), "--websocket-idle-timeout", str(IDLE_S),
        env={"SHOAL_METRICS_FLUSH_S": "0.2"},
    )  # fmt: skip
    yield server
    server.stop()


@pytest.fixture(scope="module")
def apigw(srv: ShoalServer) -> Any:
    return srv.client("apigatewayv2")


@pytest.fixture(scope="module")
def echo_arn(srv: ShoalServer) -> str:
    lam: Any = srv.client("lambda")
    name = create_function(lam, unique_name("wsecho"), ECHO)
    return str(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])


def _ws_api(apigw: Any, function_arn: str, **connect: Any) -> tuple[str, str]:
    """A WebSocket API routing $connect, $disconnect, $default (two-way) and "ping" (two-way)
    and "quiet" (one-way) to ``function_arn``; its id and its stage ``prod``'s URL."""
    api = apigw.create_api(
        Name=unique_name("ws"), ProtocolType="WEBSOCKET",
        RouteSelectionExpression="$request.body.action",
    )  # fmt: skip
    api_id = api["ApiId"]
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn
    )["IntegrationId"]
    target = f"integrations/{integration}"
    apigw.create_route(ApiId=api_id, RouteKey="$connect", Target=target, **connect)
    apigw.create_route(ApiId=api_id, RouteKey="$disconnect", Target=target)
    for key in ("$default", "ping"):
        apigw.create_route(
            ApiId=api_id, RouteKey=key, Target=target, RouteResponseSelectionExpression="$default"
        )
    apigw.create_route(ApiId=api_id, RouteKey="quiet", Target=target)
    apigw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    endpoint = api["ApiEndpoint"]
    assert endpoint.startswith("ws://"), endpoint
    return api_id, f"{endpoint}/prod"


def test_management_rules(apigw: Any, echo_arn: str) -> None:
    with pytest.raises(ClientError) as e:
        apigw.create_api(Name="x", ProtocolType="WEBSOCKET")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert "RouteSelectionExpression" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        apigw.create_api(
            Name="x", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action",
            CorsConfiguration={"AllowOrigins": ["*"]},
        )  # fmt: skip
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    api = apigw.create_api(
        Name="rules", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    api_id = api["ApiId"]
    got = apigw.get_api(ApiId=api_id)
    assert got["ProtocolType"] == "WEBSOCKET"
    assert got["RouteSelectionExpression"] == "$request.body.action"
    with pytest.raises(ClientError) as e:
        apigw.create_route(ApiId=api_id, RouteKey="$nope")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert apigw.create_route(ApiId=api_id, RouteKey="sendmessage")["RouteKey"] == "sendmessage"
    with pytest.raises(ClientError) as e:
        apigw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo_arn,
            PayloadFormatVersion="2.0",
        )  # fmt: skip
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    made = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                    IntegrationUri=echo_arn)  # fmt: skip
    assert made["TimeoutInMillis"] == 29000
    assert made["PayloadFormatVersion"] == "1.0"
    with pytest.raises(ClientError) as e:
        apigw.create_authorizer(ApiId=api_id, Name="j", AuthorizerType="JWT",
                                IdentitySource=["$request.header.Authorization"],
                                JwtConfiguration={"Issuer": "https://x"})  # fmt: skip
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        apigw.export_api(ApiId=api_id, OutputType="JSON", Specification="OAS30")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    apigw.delete_api(ApiId=api_id)


def test_connect_message_and_route_responses(srv: ShoalServer, apigw: Any,
                                             echo_arn: str) -> None:  # fmt: skip
    api_id, url = _ws_api(apigw, echo_arn)
    with connect(url + "?team=blue&team=red&x=1", open_timeout=60) as ws:
        ws.send(json.dumps({"action": "ping", "n": 1}))
        event = json.loads(ws.recv(timeout=60))
        ctx = event["requestContext"]
        assert ctx["routeKey"] == "ping"
        assert ctx["eventType"] == "MESSAGE"
        assert ctx["apiId"] == api_id and ctx["stage"] == "prod"
        assert ctx["messageId"] and ctx["connectionId"] and ctx["connectedAt"] > 0
        assert ctx["requestTimeEpoch"] >= ctx["connectedAt"]
        assert ctx["domainName"] and ctx["messageDirection"] == "IN"
        assert event["body"] == json.dumps({"action": "ping", "n": 1})
        assert event["isBase64Encoded"] is False
        connection_id = ctx["connectionId"]
        ws.send("not json at all")  # no action: $default
        event = json.loads(ws.recv(timeout=60))
        assert event["requestContext"]["routeKey"] == "$default"
        assert event["requestContext"]["connectionId"] == connection_id
        ws.send(b"\x00\x01binary")
        event = json.loads(ws.recv(timeout=60))
        assert event["isBase64Encoded"] is True
        # A route added while connected serves the open connection's next message.
        routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id)["Items"]}
        apigw.create_route(ApiId=api_id, RouteKey="late", Target=routes["ping"]["Target"],
                           RouteResponseSelectionExpression="$default")  # fmt: skip
        ws.send(json.dumps({"action": "late"}))
        assert json.loads(ws.recv(timeout=60))["requestContext"]["routeKey"] == "late"
        ws.send(json.dumps({"action": "quiet"}))  # one-way: nothing comes back ...
        ws.send("fail")  # ... and a failing integration says so
        failed = json.loads(ws.recv(timeout=60))
        assert failed["message"] == "Internal server error"
        assert failed["connectionId"] == connection_id
    # AWS/ApiGateway's WebSocket metrics: 1 connect, 6 messages, 1 integration error.
    cloudwatch: Any = srv.client("cloudwatch")

    def total(name: str) -> float:
        found = cloudwatch.get_metric_statistics(
            Namespace="AWS/ApiGateway", MetricName=name, Statistics=["Sum"], Period=60,
            Dimensions=[{"Name": "ApiId", "Value": api_id}, {"Name": "Stage", "Value": "prod"}],
            StartTime=time.time() - 600, EndTime=time.time() + 60,
        )["Datapoints"]  # fmt: skip
        return float(sum(p["Sum"] for p in found))

    wait_for(lambda: total("MessageCount") == 6 and total("IntegrationError") == 1)
    assert total("ConnectCount") == 1
    assert total("ClientError") == 0


def test_connect_refused_by_function(apigw: Any, echo_arn: str) -> None:
    _, url = _ws_api(apigw, echo_arn)
    with connect(url, open_timeout=60, subprotocols=["chat.v1", "chat.v2"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "chat.v2"  # the one the $connect function chose
    with pytest.raises(InvalidStatus) as e:
        with connect(url + "?deny=1", open_timeout=60):
            pass
    assert e.value.response.status_code == 403
    assert bytes(e.value.response.body or b"") == b"not you"
    with pytest.raises(InvalidStatus) as e:
        with connect(url + "?show=1&tag=a&tag=b", open_timeout=60,
                     additional_headers={"X-Forwarded-For": "203.0.113.9"}):  # fmt: skip
            pass
    assert e.value.response.status_code == 418
    event = json.loads(bytes(e.value.response.body or b""))
    ctx = event["requestContext"]
    assert (ctx["eventType"], ctx["routeKey"], ctx["messageDirection"]) == (
        "CONNECT", "$connect", "IN")
    assert ctx["connectionId"] and ctx["connectedAt"] <= ctx["requestTimeEpoch"]
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    headers = event["headers"]
    assert headers["Sec-WebSocket-Version"] == "13" and headers["Sec-WebSocket-Key"]
    assert headers["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Amzn-Trace-Id"].startswith("Root=")
    assert event["multiValueHeaders"]["Sec-WebSocket-Version"] == ["13"]
    assert event["queryStringParameters"] == {"show": "1", "tag": "b"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert event["isBase64Encoded"] is False
    with pytest.raises(InvalidStatus) as e:
        with connect(url.rsplit("/", 1)[0] + "/nostage", open_timeout=60):
            pass
    assert e.value.response.status_code == 403


def test_connections_api(srv: ShoalServer, apigw: Any, echo_arn: str) -> None:
    api_id, url = _ws_api(apigw, echo_arn)
    http_endpoint = apigw.get_api(ApiId=api_id)["ApiEndpoint"].replace("ws://", "http://")
    manage: Any = boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"{http_endpoint}/prod", region_name="us-east-1",
        aws_access_key_id="shoal", aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip
    with connect(url, open_timeout=60, user_agent_header="ws-test/1") as ws:
        ws.send(json.dumps({"action": "ping"}))
        connection_id = json.loads(ws.recv(timeout=60))["requestContext"]["connectionId"]
        got = manage.get_connection(ConnectionId=connection_id)
        assert got["Identity"]["UserAgent"] == "ws-test/1"
        assert got["Identity"]["SourceIp"] == "127.0.0.1"
        assert got["LastActiveAt"] >= got["ConnectedAt"]
        manage.post_to_connection(ConnectionId=connection_id, Data=b"hello from outside")
        assert ws.recv(timeout=30) == "hello from outside"
        with pytest.raises(ClientError) as e:
            manage.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
        assert e.value.response["Error"]["Code"] == "PayloadTooLargeException"
        manage.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
    with pytest.raises(ClientError) as e:
        manage.get_connection(ConnectionId=connection_id)
    assert e.value.response["Error"]["Code"] == "GoneException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    with connect(url, open_timeout=60) as ws:  # deleting its stage ends a connection
        apigw.delete_stage(ApiId=api_id, StageName="prod")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    # Shoal's endpoint itself (what AWS_ENDPOINT_URL names in a function) answers too.
    root: Any = boto3.client(
        "apigatewaymanagementapi", endpoint_url=srv.endpoint, region_name="us-east-1",
        aws_access_key_id="shoal", aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip
    with pytest.raises(ClientError) as e:
        root.post_to_connection(ConnectionId=connection_id, Data=b"late")
    assert e.value.response["Error"]["Code"] == "GoneException"
    manage.close()
    root.close()


def test_connections_api_needs_manage_connections(srv: ShoalServer, apigw: Any,
                                                  echo_arn: str) -> None:  # fmt: skip
    iam: Any = srv.client("iam")
    user = unique_name("wsuser")
    iam.create_user(UserName=user)
    keys = iam.create_access_key(UserName=user)["AccessKey"]
    api_id, url = _ws_api(apigw, echo_arn)
    manage: Any = boto3.client(
        "apigatewaymanagementapi", endpoint_url=srv.endpoint, region_name="us-east-1",
        aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip
    with connect(url, open_timeout=60) as ws:
        ws.send(json.dumps({"action": "ping"}))
        connection_id = json.loads(ws.recv(timeout=60))["requestContext"]["connectionId"]
        with pytest.raises(ClientError) as e:
            manage.post_to_connection(ConnectionId=connection_id, Data=b"no")
        assert e.value.response["Error"]["Code"] == "ForbiddenException"
        iam.put_user_policy(UserName=user, PolicyName="manage", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "execute-api:ManageConnections",
                "Resource": f"arn:aws:execute-api:us-east-1:*:{api_id}/prod/POST/@connections/*"}]
        }))  # fmt: skip
        manage.post_to_connection(ConnectionId=connection_id, Data=b"yes")
        assert ws.recv(timeout=30) == "yes"
        with pytest.raises(ClientError) as e:  # GET is not allowed by the policy
            manage.get_connection(ConnectionId=connection_id)
        assert e.value.response["Error"]["Code"] == "ForbiddenException"
    manage.close()


def test_connect_authorizers(srv: ShoalServer, apigw: Any, echo_arn: str) -> None:
    lam: Any = srv.client("lambda")
    auth = create_function(lam, unique_name("wsauth"), AUTHORIZER)
    auth_arn = lam.get_function(FunctionName=auth)["Configuration"]["FunctionArn"]
    api = apigw.create_api(Name=unique_name("wsa"), ProtocolType="WEBSOCKET",
                           RouteSelectionExpression="$request.body.action")  # fmt: skip
    api_id = api["ApiId"]
    authorizer = apigw.create_authorizer(
        ApiId=api_id, Name="fn", AuthorizerType="REQUEST",
        AuthorizerUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                      f"{auth_arn}/invocations",
        IdentitySource=["route.request.querystring.token"],
    )["AuthorizerId"]  # fmt: skip
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo_arn
    )["IntegrationId"]
    target = f"integrations/{integration}"
    apigw.create_route(ApiId=api_id, RouteKey="$connect", Target=target,
                       AuthorizationType="CUSTOM", AuthorizerId=authorizer)  # fmt: skip
    apigw.create_route(ApiId=api_id, RouteKey="$default", Target=target,
                       RouteResponseSelectionExpression="$default")  # fmt: skip
    apigw.create_stage(ApiId=api_id, StageName="prod")
    url = f"{api['ApiEndpoint']}/prod"
    with pytest.raises(InvalidStatus) as e:
        with connect(url, open_timeout=60):  # no token: refused without calling the function
            pass
    assert e.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as e:
        with connect(url + "?token=wrong", open_timeout=60):
            pass
    assert e.value.response.status_code == 403
    with connect(url + "?token=let-me-in", open_timeout=60) as ws:
        ws.send("hi")
        ctx = json.loads(ws.recv(timeout=60))["requestContext"]
        assert ctx["authorizer"]["principalId"] == "alice"
        assert ctx["authorizer"]["user"] == "alice"
        assert ctx["authorizer"]["arn"] == (
            f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/prod/$connect"
        )

    # AWS_IAM: the upgrade request signed for execute-api by a caller IAM allows.
    iam_api = apigw.create_api(Name=unique_name("wsi"), ProtocolType="WEBSOCKET",
                               RouteSelectionExpression="$request.body.action")  # fmt: skip
    apigw.create_route(ApiId=iam_api["ApiId"], RouteKey="$connect", AuthorizationType="AWS_IAM")
    echo = apigw.create_integration(ApiId=iam_api["ApiId"], IntegrationType="AWS_PROXY",
                                    IntegrationUri=echo_arn)["IntegrationId"]  # fmt: skip
    apigw.create_route(ApiId=iam_api["ApiId"], RouteKey="$default",
                       Target=f"integrations/{echo}",
                       RouteResponseSelectionExpression="$default")  # fmt: skip
    apigw.create_stage(ApiId=iam_api["ApiId"], StageName="prod")
    iam_url = f"{iam_api['ApiEndpoint']}/prod"
    with pytest.raises(InvalidStatus) as e:
        with connect(iam_url, open_timeout=60):
            pass
    assert e.value.response.status_code == 403
    signed = signed_headers("GET", iam_url.replace("ws://", "http://"), b"", "execute-api")
    with connect(iam_url, open_timeout=60, additional_headers={
            k: v for k, v in signed.items() if k.lower() != "host"}) as ws:  # fmt: skip
        ws.send("who am i")  # the connection's caller is in every later event
        identity = json.loads(ws.recv(timeout=60))["requestContext"]["identity"]
        assert identity["userArn"] == "arn:aws:iam::123456789012:root"
        assert identity["accessKey"] == "shoal"
        assert identity["sourceIp"] == "127.0.0.1"


def test_quotas(apigw: Any, echo_arn: str) -> None:
    _, url = _ws_api(apigw, echo_arn)
    with connect(url, open_timeout=60, max_size=None) as ws:
        # 100 KB in 32 KB frames: within both quotas.
        big = "y" * (100 * 1024)
        ws.send([big[i : i + 32 * 1024] for i in range(0, len(big), 32 * 1024)])
        event = json.loads(ws.recv(timeout=60))
        assert len(event["body"]) == len(big)
        ws.send("z" * (40 * 1024))  # one 40 KB frame: over the frame quota
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=30)
        assert e.value.rcvd is not None and e.value.rcvd.code == 1009
    with connect(url, open_timeout=60) as ws:
        big = "m" * (129 * 1024)  # over the message quota, in quota-sized frames
        ws.send([big[i : i + 32 * 1024] for i in range(0, len(big), 32 * 1024)])
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=30)
        assert e.value.rcvd is not None and e.value.rcvd.code == 1009


def test_idle_timeout(apigw: Any, echo_arn: str) -> None:
    _, url = _ws_api(apigw, echo_arn)
    with connect(url, open_timeout=60) as ws:
        started = time.monotonic()
        ws.send(json.dumps({"action": "quiet"}))  # activity: the idle clock starts again
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=IDLE_S * 5)
        assert e.value.rcvd is not None and e.value.rcvd.code == 1001
        assert time.monotonic() - started >= IDLE_S - 0.5


def test_maximum_duration(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--websocket-max-duration", "2")
    try:
        apigw: Any = server.client("apigatewayv2")
        api = apigw.create_api(Name="short", ProtocolType="WEBSOCKET",
                               RouteSelectionExpression="$request.body.action")  # fmt: skip
        apigw.create_stage(ApiId=api["ApiId"], StageName="prod")
        with connect(f"{api['ApiEndpoint']}/prod", open_timeout=60) as ws:
            started = time.monotonic()
            closed_by = None
            while closed_by is None:  # messages keep it active: the maximum still applies
                try:
                    ws.send("still here")
                    assert json.loads(ws.recv(timeout=0.5))["message"] == "Forbidden"
                except TimeoutError:
                    pass
                except ConnectionClosed as e:
                    closed_by = e
            assert closed_by.rcvd is not None and closed_by.rcvd.code == 1001
            assert 1.5 <= time.monotonic() - started <= 10
        apigw.close()
    finally:
        server.stop()
    # The API was persisted: after a restart it is served again (its connections were not).
    server = start_server(tmp_path / "data", execution_role=False)
    try:
        apigw = server.client("apigatewayv2")
        assert apigw.get_api(ApiId=api["ApiId"])["RouteSelectionExpression"] == (
            "$request.body.action"
        )
        endpoint = apigw.get_api(ApiId=api["ApiId"])["ApiEndpoint"]
        with connect(f"{endpoint}/prod", open_timeout=60) as ws:
            ws.send("hello again")
            assert json.loads(ws.recv(timeout=30))["message"] == "Forbidden"  # no routes
        apigw.close()
    finally:
        server.stop()


def test_route_and_integration_responses_and_authorization_rules(apigw: Any, echo_arn: str) -> None:
    api_id, _ = _ws_api(apigw, echo_arn)
    routes = {r["RouteKey"]: r["RouteId"] for r in apigw.get_routes(ApiId=api_id)["Items"]}
    made = apigw.create_route_response(ApiId=api_id, RouteId=routes["ping"],
                                       RouteResponseKey="$default")  # fmt: skip
    assert made["RouteResponseKey"] == "$default" and made["RouteResponseId"]
    got = apigw.get_route_response(ApiId=api_id, RouteId=routes["ping"],
                                   RouteResponseId=made["RouteResponseId"])  # fmt: skip
    assert got["RouteResponseId"] == made["RouteResponseId"]
    listed = apigw.get_route_responses(ApiId=api_id, RouteId=routes["ping"])["Items"]
    assert [r["RouteResponseId"] for r in listed] == [made["RouteResponseId"]]
    with pytest.raises(ClientError) as e:
        apigw.create_route_response(ApiId=api_id, RouteId=routes["ping"],
                                    RouteResponseKey="$default")  # fmt: skip
    assert e.value.response["Error"]["Code"] == "ConflictException"
    apigw.delete_route_response(ApiId=api_id, RouteId=routes["ping"],
                                RouteResponseId=made["RouteResponseId"])  # fmt: skip
    assert apigw.get_route_responses(ApiId=api_id, RouteId=routes["ping"])["Items"] == []
    integration = apigw.get_route(ApiId=api_id, RouteId=routes["ping"])["Target"].split("/")[1]
    made = apigw.create_integration_response(ApiId=api_id, IntegrationId=integration,
                                             IntegrationResponseKey="/2\\d\\d/",
                                             ContentHandlingStrategy="CONVERT_TO_TEXT")  # fmt: skip
    assert made["IntegrationResponseKey"] == "/2\\d\\d/"
    updated = apigw.update_integration_response(
        ApiId=api_id, IntegrationId=integration,
        IntegrationResponseId=made["IntegrationResponseId"], TemplateSelectionExpression="$x",
    )  # fmt: skip
    assert updated["ContentHandlingStrategy"] == "CONVERT_TO_TEXT"
    assert updated["TemplateSelectionExpression"] == "$x"
    of = {"ApiId": api_id, "IntegrationId": integration}
    assert len(apigw.get_integration_responses(**of)["Items"]) == 1
    with pytest.raises(ClientError) as e:
        apigw.create_integration_response(ApiId=api_id, IntegrationId=integration,
                                          IntegrationResponseKey="bogus")  # fmt: skip
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    apigw.delete_integration_response(**of, IntegrationResponseId=made["IntegrationResponseId"])
    with pytest.raises(ClientError) as e:
        apigw.get_integration_response(**of, IntegrationResponseId=made["IntegrationResponseId"])
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as e:  # authorization is the connection's, not a message's
        apigw.update_route(ApiId=api_id, RouteId=routes["ping"], AuthorizationType="AWS_IAM")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert "$connect" in e.value.response["Error"]["Message"]
    http_api = apigw.create_api(Name=unique_name("h"), ProtocolType="HTTP")["ApiId"]
    route = apigw.create_route(ApiId=http_api, RouteKey="GET /x")["RouteId"]
    with pytest.raises(ClientError) as e:
        apigw.create_route_response(ApiId=http_api, RouteId=route, RouteResponseKey="$default")
    assert e.value.response["Error"]["Code"] == "BadRequestException"


def test_aws_cli_v2(srv: ShoalServer, echo_arn: str) -> None:
    """The AWS CLI v2 (Debian's awscli) makes a WebSocket API and posts to a connection."""
    import os
    import subprocess

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}  # fmt: skip

    def aws(*args: str, endpoint: str = srv.endpoint) -> Any:
        out = subprocess.run(["/usr/bin/aws", "--endpoint-url", endpoint, "--output", "json",
                              *args], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else None

    api = aws("apigatewayv2", "create-api", "--name", unique_name("cli"), "--protocol-type",
              "WEBSOCKET", "--route-selection-expression", "$request.body.action")
    integration = aws("apigatewayv2", "create-integration", "--api-id", api["ApiId"],
                      "--integration-type", "AWS_PROXY", "--integration-uri", echo_arn)
    aws("apigatewayv2", "create-route", "--api-id", api["ApiId"], "--route-key", "$default",
        "--target", f"integrations/{integration['IntegrationId']}",
        "--route-response-selection-expression", "$default")
    aws("apigatewayv2", "create-stage", "--api-id", api["ApiId"], "--stage-name", "dev")
    with connect(f"{api['ApiEndpoint']}/dev", open_timeout=60) as ws:
        ws.send("who am i")
        connection_id = json.loads(ws.recv(timeout=60))["requestContext"]["connectionId"]
        management = api["ApiEndpoint"].replace("ws://", "http://") + "/dev"
        aws("apigatewaymanagementapi", "post-to-connection", "--connection-id", connection_id,
            "--data", "from the cli", "--cli-binary-format", "raw-in-base64-out",
            endpoint=management)
        assert ws.recv(timeout=30) == "from the cli"
        ws.send("still here")  # activity: the CLI's start-up is most of this server's idle time
        json.loads(ws.recv(timeout=60))
        got = aws("apigatewaymanagementapi", "get-connection", "--connection-id", connection_id,
                  endpoint=management)
        assert got["Identity"]["SourceIp"] == "127.0.0.1"


def test_wss_under_tls(tmp_path: Path) -> None:
    """``--tls auto``: the ApiEndpoint is wss://, the handshake is TLS, @connections is https."""
    import ssl

    server = start_server(tmp_path / "data", "--tls", "auto", execution_role=False)
    try:
        ca = str(server.data_dir / "tls" / "ca.pem")
        apigw: Any = boto3.client(
            "apigatewayv2", endpoint_url=server.endpoint, region_name="us-east-1", verify=ca,
            aws_access_key_id="shoal", aws_secret_access_key="shoal",
        )  # fmt: skip
        api = apigw.create_api(Name="tls", ProtocolType="WEBSOCKET",
                               RouteSelectionExpression="$request.body.action")  # fmt: skip
        apigw.create_stage(ApiId=api["ApiId"], StageName="prod")
        assert api["ApiEndpoint"].startswith("wss://")
        manage: Any = boto3.client(
            "apigatewaymanagementapi", endpoint_url=server.endpoint, region_name="us-east-1",
            verify=ca, aws_access_key_id="shoal", aws_secret_access_key="shoal",
        )  # fmt: skip
        with connect(f"{api['ApiEndpoint']}/prod", open_timeout=60,
                     ssl=ssl.create_default_context(cafile=ca)) as ws:  # fmt: skip
            ws.send("hello")
            said = json.loads(ws.recv(timeout=30))
            assert said["message"] == "Forbidden"  # no routes
            manage.post_to_connection(ConnectionId=said["connectionId"], Data=b"secure")
            assert ws.recv(timeout=30) == "secure"
        apigw.close()
        manage.close()
    finally:
        server.stop()


def test_host_style(srv: ShoalServer, apigw: Any, echo_arn: str) -> None:
    """``ws://{apiId}.execute-api.localhost:{port}/{stage}`` and its ``@connections``
    (``http://{apiId}.execute-api.localhost:{port}/{stage}/@connections/{id}``, signed)."""
    import socket
    import subprocess
    from urllib.parse import quote

    api_id, _ = _ws_api(apigw, echo_arn)
    port = int(srv.endpoint.rsplit(":", 1)[1])
    host = f"{api_id}.execute-api.localhost:{port}"
    sock = socket.create_connection(("127.0.0.1", port))  # Python resolves no *.localhost
    with connect(f"ws://{host}/prod", sock=sock, open_timeout=60) as ws:
        ws.send(json.dumps({"action": "ping"}))
        ctx = json.loads(ws.recv(timeout=60))["requestContext"]
        assert ctx["domainName"] == host
        url = f"http://{host}/prod/@connections/{quote(ctx['connectionId'], safe='')}"
        headers = signed_headers("POST", url, b"by host", "execute-api")
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
             "--data-binary", "by host", *[a for k, v in headers.items()
                                           for a in ("-H", f"{k}: {v}")], url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.stdout == "200", out
        assert ws.recv(timeout=30) == "by host"
