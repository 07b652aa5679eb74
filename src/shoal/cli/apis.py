"""``shoal api create|list|routes|delete`` and ``shoal api url``: HTTP triggers from the CLI.

``shoal api create NAME --function FN`` makes an HTTP API in front of a function: with no
``--route``, API Gateway's quick create (a ``$default`` route and an auto-deployed ``$default``
stage); with ``--route 'ANY /MessageWall' --stage default``, that route on that stage, as the
seed's MessageWall has. It prints a URL to call per route, path variables filled in with their
names (:func:`route_url`). ``shoal api url FN`` gives a function its
function URL. Every command is an apigatewayv2 or Lambda client of a running Shoal, so the AWS
CLI does the same.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from shoal.cli.client import client
from shoal.cli.main import print_json

# A path variable of a route key: {name}, or {name+} (greedy) as the last segment.
_VARIABLE = re.compile(r"\{([^{}/]+?)\+?\}")


def route_url(base: str, route_key: str) -> str:
    """A URL that reaches ``route_key`` through the stage at ``base``, usable as printed.

    Path variables are filled in with their own names (``/files/{proxy+}`` gives
    ``/files/proxy``, ``/items/{id}`` gives ``/items/id``): braces are not URL characters, and
    curl would read them as a glob. ``$default`` (any path) gives the stage's root.
    """
    path = route_key.partition(" ")[2]
    return base + (_VARIABLE.sub(lambda m: m.group(1), path) if path else "/")


def _stage_base(api: dict[str, Any], stage: str) -> str:
    return api["ApiEndpoint"] if stage == "$default" else f"{api['ApiEndpoint']}/{stage}"


def _function_arn(args: argparse.Namespace) -> str:
    config = client("lambda", args.endpoint_url).get_function_configuration(
        FunctionName=args.function
    )
    arn: str = config["FunctionArn"]
    return f"{arn}:{args.qualifier}" if args.qualifier else arn


def _create(args: argparse.Namespace) -> int:
    apigw = client("apigatewayv2", args.endpoint_url)
    target = _function_arn(args)
    if not args.route and not args.stage:
        api = apigw.create_api(Name=args.name, ProtocolType="HTTP", Target=target)
        print(api["ApiEndpoint"] + "/")
        return 0
    routes = args.route or ["$default"]
    api = apigw.create_api(Name=args.name, ProtocolType="HTTP")
    integration = apigw.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="AWS_PROXY",
        IntegrationUri=target,
        PayloadFormatVersion=args.payload_format,
    )
    for key in routes:
        apigw.create_route(
            ApiId=api["ApiId"], RouteKey=key, Target=f"integrations/{integration['IntegrationId']}"
        )
    stage = args.stage or "$default"
    apigw.create_stage(ApiId=api["ApiId"], StageName=stage, AutoDeploy=True)
    for key in routes:
        print(route_url(_stage_base(api, stage), key))
        if _VARIABLE.search(key):
            print(f"shoal: {key}: path variables filled in with their names", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    apigw = client("apigatewayv2", args.endpoint_url)
    for api in apigw.get_paginator("get_apis").paginate().build_full_result().get("Items", []):
        print(f"{api['ApiId']}  {api['Name']:30}  {api['ApiEndpoint']}")
    return 0


def _routes(args: argparse.Namespace) -> int:
    apigw = client("apigatewayv2", args.endpoint_url)
    routes = apigw.get_routes(ApiId=args.api_id)["Items"]
    integrations = {
        i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=args.api_id)["Items"]
    }
    stages = [s["StageName"] for s in apigw.get_stages(ApiId=args.api_id)["Items"]]
    api = apigw.get_api(ApiId=args.api_id)
    print_json(
        {
            "Stages": stages,
            "Routes": [
                {
                    "RouteKey": r["RouteKey"],
                    "Function": integrations.get(
                        r.get("Target", "")[len("integrations/") :], {}
                    ).get("IntegrationUri"),
                    # One per stage, path variables filled in (see route_url).
                    "Urls": [route_url(_stage_base(api, s), r["RouteKey"]) for s in stages],
                }
                for r in routes
            ],
        }
    )
    return 0


def _delete(args: argparse.Namespace) -> int:
    client("apigatewayv2", args.endpoint_url).delete_api(ApiId=args.api_id)
    return 0


def _url(args: argparse.Namespace) -> int:
    lam = client("lambda", args.endpoint_url)
    kwargs: dict[str, Any] = {"FunctionName": args.function, "AuthType": "NONE"}
    if args.qualifier:
        kwargs["Qualifier"] = args.qualifier
    if args.delete:
        kwargs.pop("AuthType")
        lam.delete_function_url_config(**kwargs)
        return 0
    try:
        config = lam.create_function_url_config(**kwargs)
    except lam.exceptions.ResourceConflictException:
        kwargs.pop("AuthType")
        config = lam.get_function_url_config(**kwargs)
    print(config["FunctionUrl"])
    return 0


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--endpoint-url",
        help="Shoal endpoint (default $SHOAL_ENDPOINT, else http://127.0.0.1:9000)",
    )
    group = subparsers.add_parser("api", help="HTTP APIs and function URLs")
    sub = group.add_subparsers(dest="api_command", required=True)

    p = sub.add_parser("create", parents=[common], help="an HTTP API in front of a function")
    p.add_argument("name")
    p.add_argument("--function", required=True, help="function name or ARN")
    p.add_argument("--qualifier", help="alias or version to call")
    p.add_argument(
        "--route",
        action="append",
        metavar="KEY",
        help="route key such as 'ANY /MessageWall' (repeatable; default: quick create)",
    )
    p.add_argument("--stage", help="stage name (default $default)")
    p.add_argument("--payload-format", default="2.0", choices=["2.0", "1.0"])
    p.set_defaults(func=_create)

    p = sub.add_parser("list", parents=[common], help="list HTTP APIs")
    p.set_defaults(func=_list)

    p = sub.add_parser("routes", parents=[common], help="an API's stages and routes")
    p.add_argument("api_id")
    p.set_defaults(func=_routes)

    p = sub.add_parser("delete", parents=[common], help="delete an HTTP API")
    p.add_argument("api_id")
    p.set_defaults(func=_delete)

    p = sub.add_parser("url", parents=[common], help="a function's function URL (made if needed)")
    p.add_argument("function")
    p.add_argument("--qualifier", help="alias")
    p.add_argument("--delete", action="store_true", help="delete the function URL instead")
    p.set_defaults(func=_url)
