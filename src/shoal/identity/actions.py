"""What each operation Shoal serves is authorized as: its IAM action, the resource ARN it is
authorized on, and the service condition keys its request carries (the Service Authorization
Reference's "Actions, resources, and condition keys for …" pages).

It is data: per service a table of the operations whose action or resource is not the
service's rule, and a small set of resource builders that compute an ARN from the call's
decoded params (member names as in the model), its region and the account. An operation
absent from its table is authorized by the service's default (``PREFIX:Operation`` on the
resource its params name); ``tests/unit/identity`` checks every registered handler resolves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shoal.api.model import load_model

Params = Mapping[str, Any]
Builder = Callable[[Params, str, str], str]  # (params, region, account) -> resource ARN


@dataclass(frozen=True)
class Action:
    """How one operation is authorized. ``action`` None: no permission is needed (STS
    GetCallerIdentity)."""

    action: str | None
    resource: str
    keys: Mapping[str, Any]


def _arn(service: str, region: str, account: str, rest: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{rest}"


def function_arn(p: Params, region: str, account: str) -> str:
    """A function's ARN from ``FunctionName`` (name, partial or full ARN) and ``Qualifier``."""
    name = str(p.get("FunctionName", "*"))
    qualifier = p.get("Qualifier")
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:  # ACCOUNT:function:NAME[:QUALIFIER]
        arn = f"arn:aws:lambda:{region}:{name}"
    else:
        name, _, q = name.partition(":")
        arn = _arn("lambda", region, account, f"function:{name}") + (f":{q}" if q else "")
    if qualifier and arn.count(":") == 6:
        arn += f":{qualifier}"
    return arn


def layer_arn(p: Params, region: str, account: str) -> str:
    name = str(p.get("LayerName", "*"))
    return name if name.startswith("arn:") else _arn("lambda", region, account, f"layer:{name}")


def layer_version_arn(p: Params, region: str, account: str) -> str:
    if "Arn" in p:
        return str(p["Arn"])
    return f"{layer_arn(p, region, account)}:{p.get('VersionNumber', '*')}"


def named(service: str, kind: str, member: str, sep: str = ":") -> Builder:
    """``arn:aws:SERVICE:REGION:ACCOUNT:KIND<sep>ID`` from ``member`` (or itself if an ARN);
    ``KIND<sep>*`` when the call does not name one."""

    def build(p: Params, region: str, account: str) -> str:
        value = str(p.get(member) or "*")
        if value.startswith("arn:"):
            return value
        return _arn(service, region, account, f"{kind}{sep}{value}")

    return build


def anything(p: Params, region: str, account: str) -> str:
    return "*"


def member_arn(member: str) -> Builder:
    return lambda p, region, account: str(p.get(member) or "*")


def first(*builders: tuple[str, Builder]) -> Builder:
    """The builder of the first member the call has; ``*`` when it has none."""

    def build(p: Params, region: str, account: str) -> str:
        for member, builder in builders:
            if p.get(member):
                return builder(p, region, account)
        return "*"

    return build


# -- Lambda -------------------------------------------------------------------------------

_LAMBDA_ESM = named("lambda", "event-source-mapping", "UUID")
_LAMBDA_CSC = named("lambda", "code-signing-config", "CodeSigningConfigArn")


def _lambda_config_keys(p: Params) -> dict[str, Any]:
    vpc = p.get("VpcConfig") or {}
    keys: dict[str, Any] = {}
    if p.get("Layers"):
        keys["lambda:layer"] = list(p["Layers"])
    if vpc.get("SubnetIds"):
        keys["lambda:subnetids"] = list(vpc["SubnetIds"])
    if vpc.get("SecurityGroupIds"):
        keys["lambda:securitygroupids"] = list(vpc["SecurityGroupIds"])
    if p.get("CodeSigningConfigArn"):
        keys["lambda:codesigningconfigarn"] = p["CodeSigningConfigArn"]
    return keys


def _url_keys(p: Params) -> dict[str, Any]:
    return {"lambda:functionurlauthtype": p["AuthType"]} if p.get("AuthType") else {}


def _permission_keys(p: Params) -> dict[str, Any]:
    keys = _url_keys(p) if "FunctionUrlAuthType" not in p else {}
    if p.get("FunctionUrlAuthType"):
        keys["lambda:functionurlauthtype"] = p["FunctionUrlAuthType"]
    if p.get("Principal"):
        keys["lambda:principal"] = p["Principal"]
    return keys


def _esm_keys(p: Params) -> dict[str, Any]:
    return {"lambda:functionarn": p["FunctionName"]} if p.get("FunctionName") else {}


KeyFn = Callable[[Params], dict[str, Any]]
# operation -> (action name, or None for the operation's own; builder; service keys)
Entry = tuple[str | None, Builder, KeyFn | None]

LAMBDA: dict[str, Entry] = {
    "Invoke": ("InvokeFunction", function_arn, None),
    "InvokeAsync": ("InvokeAsync", function_arn, None),
    "CreateFunction": (None, function_arn, _lambda_config_keys),
    "UpdateFunctionConfiguration": (None, function_arn, _lambda_config_keys),
    "AddPermission": (None, function_arn, _permission_keys),
    "RemovePermission": (None, function_arn, _permission_keys),
    "CreateFunctionUrlConfig": (None, function_arn, _url_keys),
    "UpdateFunctionUrlConfig": (None, function_arn, _url_keys),
    "DeleteFunctionUrlConfig": (None, function_arn, None),
    "GetAccountSettings": (None, anything, None),
    "ListFunctions": (None, anything, None),
    "ListLayers": (None, anything, None),
    "ListCodeSigningConfigs": (None, anything, None),
    "CreateCodeSigningConfig": (None, anything, None),
    "GetCodeSigningConfig": (None, _LAMBDA_CSC, None),
    "UpdateCodeSigningConfig": (None, _LAMBDA_CSC, None),
    "DeleteCodeSigningConfig": (None, _LAMBDA_CSC, None),
    "ListFunctionsByCodeSigningConfig": (None, _LAMBDA_CSC, None),
    "ListEventSourceMappings": (None, anything, None),
    "CreateEventSourceMapping": (None, anything, _esm_keys),
    "GetEventSourceMapping": (None, _LAMBDA_ESM, None),
    "UpdateEventSourceMapping": (None, _LAMBDA_ESM, _esm_keys),
    "DeleteEventSourceMapping": (None, _LAMBDA_ESM, None),
    "PublishLayerVersion": (None, layer_arn, None),
    "ListLayerVersions": (None, layer_arn, None),
    "GetLayerVersion": (None, layer_version_arn, None),
    "GetLayerVersionByArn": ("GetLayerVersion", layer_version_arn, None),
    "DeleteLayerVersion": (None, layer_version_arn, None),
    "GetLayerVersionPolicy": (None, layer_version_arn, None),
    "AddLayerVersionPermission": (None, layer_version_arn, None),
    "RemoveLayerVersionPermission": (None, layer_version_arn, None),
    "TagResource": (None, member_arn("Resource"), None),
    "UntagResource": (None, member_arn("Resource"), None),
    "ListTags": (None, member_arn("Resource"), None),
}

# -- EFS ----------------------------------------------------------------------------------

_FS = named("elasticfilesystem", "file-system", "FileSystemId", "/")
_AP = named("elasticfilesystem", "access-point", "AccessPointId", "/")


def _efs_resource(p: Params, region: str, account: str) -> str:
    """``ResourceId`` of the tagging operations: a file system's or access point's id/ARN."""
    value = str(p.get("ResourceId", "*"))
    if value.startswith("fsap-"):
        return _AP({"AccessPointId": value}, region, account)
    return _FS({"FileSystemId": value}, region, account)


def _encrypted(p: Params) -> dict[str, Any]:
    return {"elasticfilesystem:encrypted": "true" if p.get("Encrypted") else "false"}


# The mount-target operations are authorized on the target's file system; when the params name
# only the mount target, the EFS dispatcher's hook (shoal.api.efs_scope) resolves it.
EFS: dict[str, Entry] = {
    "CreateFileSystem": (None, _FS, _encrypted),
    "DescribeFileSystems": (None, first(("FileSystemId", _FS)), None),
    "DescribeAccessPoints": (None, first(("AccessPointId", _AP), ("FileSystemId", _FS)), None),
    "DescribeMountTargets": (None, first(("AccessPointId", _AP), ("FileSystemId", _FS)), None),
    "DeleteAccessPoint": (None, _AP, None),
    "DeleteMountTarget": (None, first(("FileSystemId", _FS)), None),
    "DescribeMountTargetSecurityGroups": (None, first(("FileSystemId", _FS)), None),
    "ModifyMountTargetSecurityGroups": (None, first(("FileSystemId", _FS)), None),
    "TagResource": (None, _efs_resource, None),
    "UntagResource": (None, _efs_resource, None),
    "ListTagsForResource": (None, _efs_resource, None),
}

# -- EC2 ----------------------------------------------------------------------------------

_EC2_IDS = (
    ("VpcId", named("ec2", "vpc", "VpcId", "/")),
    ("SubnetId", named("ec2", "subnet", "SubnetId", "/")),
    ("GroupId", named("ec2", "security-group", "GroupId", "/")),
    ("NetworkInterfaceId", named("ec2", "network-interface", "NetworkInterfaceId", "/")),
)
EC2: dict[str, Entry] = {
    "CreateVpc": (None, named("ec2", "vpc", "-", "/"), None),
    "CreateTags": (None, first(("Resources", lambda p, r, a: _ec2_tagged(p, r, a))), None),
    "DeleteTags": (None, first(("Resources", lambda p, r, a: _ec2_tagged(p, r, a))), None),
}


def _ec2_tagged(p: Params, region: str, account: str) -> str:
    kinds = {"vpc": "vpc", "subnet": "subnet", "sg": "security-group", "eni": "network-interface"}
    rid = str(list(p["Resources"])[0])
    return _arn("ec2", region, account, f"{kinds.get(rid.split('-')[0], 'resource')}/{rid}")


# -- IAM and STS --------------------------------------------------------------------------


def _iam(kind: str, member: str) -> Builder:
    def build(p: Params, region: str, account: str) -> str:
        path = str(p.get("Path") or "/")
        return f"arn:aws:iam::{account}:{kind}{path}{p.get(member) or '*'}"

    return build


_IAM_IDS = (
    ("RoleName", _iam("role", "RoleName")),
    ("UserName", _iam("user", "UserName")),
    ("GroupName", _iam("group", "GroupName")),
    ("PolicyArn", member_arn("PolicyArn")),
    ("InstanceProfileName", _iam("instance-profile", "InstanceProfileName")),
)
STS: dict[str, Entry] = {"AssumeRole": (None, member_arn("RoleArn"), None)}


def _alarm(p: Params, region: str, account: str) -> str:
    """An alarm's ARN (CloudWatch's alarm operations that name one alarm); the metric
    operations are on ``*``, as the Service Authorization Reference lists them."""
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{p.get('AlarmName') or '*'}"


CLOUDWATCH: dict[str, Entry] = {
    op: (None, _alarm, None)
    for op in ("PutMetricAlarm", "SetAlarmState", "DescribeAlarmHistory")
}
# PutMetricData's condition key: a policy may allow publishing to some namespaces only.
CLOUDWATCH["PutMetricData"] = (
    None, anything, lambda p: {"cloudwatch:namespace": str(p.get("Namespace") or "")},
)  # fmt: skip
NO_PERMISSION = {("sts", "GetCallerIdentity")}


def kms_context_keys(context: Any) -> dict[str, Any]:
    """``kms:EncryptionContext:KEY`` and ``kms:EncryptionContextKeys`` of an encryption
    context, as key policies' and IAM policies' conditions read them."""
    ctx = context if isinstance(context, dict) else {}
    keys: dict[str, Any] = {f"kms:encryptioncontext:{k}": v for k, v in ctx.items()}
    if ctx:
        keys["kms:encryptioncontextkeys"] = list(ctx)
    return keys


def _kms_keys(p: Params) -> dict[str, Any]:
    return kms_context_keys(p.get("EncryptionContext") or p.get("SourceEncryptionContext"))


# KMS: the resource is the key (shoal.api.kms_scope's hook names it); ReEncrypt is authorized
# as kms:ReEncryptFrom on its source key here and kms:ReEncryptTo on its destination by its
# handler.
KMS: dict[str, Entry] = {
    op: (None, anything, _kms_keys)
    for op in ("Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext")
}
KMS["ReEncrypt"] = ("ReEncryptFrom", anything, _kms_keys)



def log_group_arn(p: Params, region: str, account: str) -> str:
    """CloudWatch Logs: ``…:log-group:NAME:*`` from ``logGroupName`` / ``logGroupIdentifier``
    (a name or an ARN) or ``resourceArn``; ``log-group:*`` when the call names none
    (DescribeLogGroups)."""
    value = p.get("logGroupName") or p.get("logGroupIdentifier") or p.get("resourceArn")
    if not value:
        return _arn("logs", region, account, "log-group:*")
    value = str(value)
    if value.startswith("arn:"):
        return value if value.endswith(":*") else f"{value}:*"
    return _arn("logs", region, account, f"log-group:{value}:*")


PREFIX = {
    "lambda": "lambda",
    "efs": "elasticfilesystem",
    "apigatewayv2": "apigateway",
    "ec2": "ec2",
    "iam": "iam",
    "sts": "sts",
    "logs": "logs",
    "kms": "kms",
    "cloudwatch": "cloudwatch",
}
TABLES: dict[str, dict[str, Entry]] = {
    "lambda": LAMBDA, "efs": EFS, "ec2": EC2, "sts": STS, "cloudwatch": CLOUDWATCH, "kms": KMS,
}  # fmt: skip
DEFAULT_RESOURCE: dict[str, Builder] = {
    "lambda": function_arn,
    "efs": _FS,
    "ec2": first(*_EC2_IDS),
    "iam": first(*_IAM_IDS),
    "sts": anything,
    "logs": log_group_arn,
    # "*" for the operations naming no key; the others' key ARN comes from the service's
    # authorizes_on hook (shoal.api.kms_scope).
    "kms": anything,
    "cloudwatch": anything,
}


def apigateway_path(operation: str, p: Params, region: str) -> tuple[str, str]:
    """API Gateway's method and resource: ``apigateway:METHOD`` on the operation's path with
    its labels filled, without the ``/v2`` prefix (``arn:aws:apigateway:REGION::/apis/ID``)."""
    op = load_model("apigatewayv2").operations[operation]
    path = op.uri.partition("?")[0].removeprefix("/v2")
    for label, value in p.items():
        camel = f"{label[0].lower()}{label[1:]}"
        kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", label).lower()  # TagResource's {resource-arn}
        shown = str(value)
        if shown.startswith("arn:"):
            shown = quote(shown, safe="")  # /tags/${UrlEncodedResourceARN}
        path = path.replace(f"{{{camel}}}", shown).replace(f"{{{kebab}}}", shown)
    return op.method, f"arn:aws:apigateway:{region}::{path}"


def action_for(service: str, operation: str, params: Params, region: str,
               account: str) -> Action:  # fmt: skip
    """How ``operation`` of ``service`` is authorized; KeyError for an unknown service."""
    prefix = PREFIX[service]
    if (service, operation) in NO_PERMISSION:
        return Action(None, "*", {})
    if service == "apigatewayv2":
        method, resource = apigateway_path(operation, params, region)
        return Action(f"apigateway:{method}", resource, {})
    name, build, keys = TABLES.get(service, {}).get(operation, (None, None, None))
    if build is None:
        build = anything if operation.startswith(("Describe", "List")) and service == "ec2" \
            else DEFAULT_RESOURCE[service]  # fmt: skip
    return Action(
        f"{prefix}:{name or operation}",
        build(params, region, account),
        keys(params) if keys is not None else {},
    )
