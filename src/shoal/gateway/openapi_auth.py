"""Authorization in OpenAPI documents of HTTP APIs, as API Gateway imports and exports it.

``components.securitySchemes`` holds the authorizers ("x-amazon-apigateway-authorizer object" in
the API Gateway developer guide): ``type: jwt`` (``identitySource``, ``jwtConfiguration``'s
``issuer``/``audience``, the issuer found from an ``openIdConnect`` scheme's
``openIdConnectUrl`` when not given) and ``type: request`` (a Lambda authorizer:
``authorizerUri``, ``authorizerPayloadFormatVersion``, ``enableSimpleResponses``,
``authorizerResultTtlInSeconds``, ``identitySource``, ``authorizerCredentials``); an ``apiKey``
scheme with ``x-amazon-apigateway-authtype: awsSigv4`` is IAM authorization (``AWS_IAM``). An
operation's ``security`` (the document's, when the operation has none) names one scheme, with
its scopes; ``x-amazon-apigateway-auth`` (``AWS_IAM``/``NONE``) is the other way to say IAM.

A scheme that HTTP APIs can't run (a REST API's ``token`` or Cognito authorizer, a plain
``oauth2`` scheme without the extension) is a warning while no route uses it; a route that
requires one refuses the import, so that no route the document protects is ever served open.
The authorizer a scheme makes is named after the scheme, and export names the scheme after the
authorizer: a document round-trips. Pure, like :mod:`shoal.gateway.openapi`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shoal.errors import AwsError
from shoal.gateway import rules
from shoal.gateway.authorizers import Authorizer

AUTHORIZER = "x-amazon-apigateway-authorizer"
AUTHTYPE = "x-amazon-apigateway-authtype"
AUTH = "x-amazon-apigateway-auth"
SIGV4 = "awsSigv4"
WELL_KNOWN = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class Scheme:
    """A security scheme HTTP APIs can run: an authorizer's CreateAuthorizer members
    (``params``, ``extra``), or IAM authorization (``iam``)."""

    name: str
    params: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] | None = None
    iam: bool = False


@dataclass(frozen=True)
class Requirement:
    """What one operation requires: a scheme's name with its scopes; or IAM (``x-amazon-
    apigateway-auth``); ``scheme`` None and not ``iam`` is an open route."""

    scheme: str | None
    scopes: tuple[str, ...] = ()
    iam: bool = False


OPEN = Requirement(None)


def _invalid(why: str) -> AwsError:
    return rules.bad_request(f"Invalid OpenAPI input. {why}")


def schemes(doc: Mapping[str, Any], warnings: list[str]) -> dict[str, Scheme]:
    """The document's schemes HTTP APIs can run, by name (a warning for each other one)."""
    components = doc.get("components")
    found = components.get("securitySchemes") if isinstance(components, dict) else None
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise _invalid("components.securitySchemes must be an object")
    runnable: dict[str, Scheme] = {}
    for name, spec in found.items():
        if not isinstance(name, str) or not isinstance(spec, dict):
            raise _invalid("components.securitySchemes must map each name to an object")
        scheme = _scheme(name, spec)
        if scheme is None:
            warnings.append(f"Security scheme {name} not imported: HTTP APIs can't run it")
        else:
            runnable[name] = scheme
    return runnable


def _scheme(name: str, spec: Mapping[str, Any]) -> Scheme | None:
    authtype = spec.get(AUTHTYPE)
    if isinstance(authtype, str) and authtype == SIGV4:
        return Scheme(name, iam=True)
    ext = spec.get(AUTHORIZER)
    if ext is None:
        return None
    if not isinstance(ext, dict):
        raise _invalid(f"{AUTHORIZER} of {name} must be an object")
    kind = (_text(ext, "type", name) or "").lower()
    params: dict[str, Any] = {"Name": name}
    sources = _text(ext, "identitySource", name)
    if sources is not None:
        params["IdentitySource"] = [s.strip() for s in sources.split(",") if s.strip()]
    extra: dict[str, Any] = {}
    if kind == "jwt":
        params["AuthorizerType"] = "JWT"
        params["JwtConfiguration"] = _jwt(name, ext, spec)
    elif kind == "request":
        params["AuthorizerType"] = "REQUEST"
        params["AuthorizerUri"] = _text(ext, "authorizerUri", name)
        params["AuthorizerPayloadFormatVersion"] = _version(ext, name)
        simple = ext.get("enableSimpleResponses")
        if simple is not None and not isinstance(simple, bool):
            raise _invalid(f"{AUTHORIZER}.enableSimpleResponses of {name} must be a boolean")
        params["EnableSimpleResponses"] = bool(simple)
        params["AuthorizerResultTtlInSeconds"] = _ttl(ext, name)
        credentials = _text(ext, "authorizerCredentials", name)
        if credentials is not None:
            extra["AuthorizerCredentialsArn"] = credentials
    else:
        return None  # token, cognito_user_pools: REST APIs' authorizers
    return Scheme(name, params, extra)


def _jwt(name: str, ext: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    config = ext.get("jwtConfiguration") or {}
    if not isinstance(config, dict):
        raise _invalid(f"{AUTHORIZER}.jwtConfiguration of {name} must be an object")
    issuer = _text(config, "issuer", name)
    url = spec.get("openIdConnectUrl")
    if issuer is None and isinstance(url, str) and url.endswith(WELL_KNOWN):
        issuer = url[: -len(WELL_KNOWN)]  # the guide's "jwt-authorizer-autofind"
    audience = config.get("audience") or []
    if isinstance(audience, str):
        audience = [audience]
    if not isinstance(audience, list) or not all(isinstance(a, str) for a in audience):
        raise _invalid(f"{AUTHORIZER}.jwtConfiguration.audience of {name} must be strings")
    return {"Issuer": issuer, "Audience": list(audience)}


def _version(ext: Mapping[str, Any], name: str) -> str | None:
    value = ext.get("authorizerPayloadFormatVersion")
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:.1f}"  # written as a number, as integrations' often are
    return _text(ext, "authorizerPayloadFormatVersion", name)


def _ttl(ext: Mapping[str, Any], name: str) -> int:
    value = ext.get("authorizerResultTtlInSeconds")
    if value is None:
        return 0
    if isinstance(value, str) and value.isdigit() and len(value) < 6:
        return int(value)  # the guide's table types it as a string, its examples a number
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _invalid(f"{AUTHORIZER}.authorizerResultTtlInSeconds of {name} must be an integer")


def _text(spec: Mapping[str, Any], key: str, name: str) -> str | None:
    """A string member (never str() of whatever is there: YAML aliases can make a value
    whose text grows without bound)."""
    value = spec.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _invalid(f"{AUTHORIZER}.{key} of {name} must be a string")


def requirement(op: Mapping[str, Any], default: Any, where: str) -> Requirement:
    """What operation ``op`` requires: its ``x-amazon-apigateway-auth``, else its ``security``,
    else the document's (``default``)."""
    auth = op.get(AUTH)
    if auth is not None:
        kind = auth.get("type") if isinstance(auth, dict) else None
        if not isinstance(kind, str) or kind.upper() not in ("AWS_IAM", "NONE"):
            raise _invalid(f"{AUTH} of {where}: its type must be AWS_IAM or NONE")
        return Requirement(None, iam=True) if kind.upper() == "AWS_IAM" else OPEN
    security = op.get("security", default)
    if security is None:
        return OPEN
    if not isinstance(security, list) or not all(isinstance(s, dict) for s in security):
        raise _invalid(f"The security of {where} must be a list of objects")
    named = [s for s in security if s]  # {} is "no authorization" as an alternative
    if not named:
        return OPEN
    if len(security) > 1 or len(named[0]) > 1:
        raise rules.bad_request(
            f"Multiple security requirements for {where}: an HTTP API route takes one authorizer"
        )
    ((scheme, scopes),) = named[0].items()
    if not isinstance(scheme, str) or not isinstance(scopes, list):
        raise _invalid(f"The security of {where} must map a scheme's name to its scopes")
    if not all(isinstance(s, str) for s in scopes):
        raise _invalid(f"The scopes of {where} must be strings")
    return Requirement(scheme, tuple(scopes))


def check(requirement: Requirement, runnable: Mapping[str, Scheme], where: str) -> None:
    """BadRequestException for a requirement of a scheme HTTP APIs can't run (or none)."""
    if requirement.scheme is not None and requirement.scheme not in runnable:
        raise rules.bad_request(
            f"Route {where} requires security scheme {requirement.scheme}, which the document "
            "does not define as an authorizer HTTP APIs run: a protected route can't be served "
            "open"
        )


def route_members(
    requirement: Requirement, runnable: Mapping[str, Scheme], made: Mapping[str, Authorizer]
) -> dict[str, Any]:
    """A route's AuthorizationType/AuthorizerId/AuthorizationScopes for ``requirement`` (that
    :func:`check` accepted), the authorizers ``made`` by scheme name."""
    if requirement.iam:
        return {"AuthorizationType": "AWS_IAM"}
    if requirement.scheme is None:
        return {}
    scheme = runnable[requirement.scheme]  # check() made sure
    if scheme.iam:
        out: dict[str, Any] = {"AuthorizationType": "AWS_IAM"}
    else:
        authorizer = made[scheme.name]
        kind = "JWT" if authorizer.authorizer_type == "JWT" else "CUSTOM"
        out = {"AuthorizationType": kind, "AuthorizerId": authorizer.authorizer_id}
    if requirement.scopes:
        out["AuthorizationScopes"] = list(requirement.scopes)
    return out


# ------------------------------------------------------------------------------------ export


def export_schemes(authorizers: Mapping[str, Authorizer], iam: bool) -> dict[str, Any]:
    """``components.securitySchemes`` for the API's authorizers (by the names
    :func:`scheme_names` gives them), and the ``sigv4`` scheme when a route uses IAM."""
    names = scheme_names(authorizers)
    out: dict[str, Any] = {}
    for authorizer_id, a in sorted(authorizers.items(), key=lambda kv: names[kv[0]]):
        ext: dict[str, Any] = {}
        if a.identity_source:
            ext["identitySource"] = ",".join(a.identity_source)
        if a.authorizer_type == "JWT":
            ext["jwtConfiguration"] = {"audience": list(a.audience), "issuer": a.issuer}
            ext["type"] = "jwt"
            out[names[authorizer_id]] = {"type": "oauth2", "flows": {}, AUTHORIZER: ext}
            continue
        ext["authorizerUri"] = a.uri
        if a.extra.get("AuthorizerCredentialsArn"):
            ext["authorizerCredentials"] = a.extra["AuthorizerCredentialsArn"]
        ext["authorizerPayloadFormatVersion"] = a.payload_version
        ext["authorizerResultTtlInSeconds"] = a.ttl_s
        ext["type"] = "request"
        ext["enableSimpleResponses"] = a.simple_responses
        key, place = _api_key(a.identity_source)
        out[names[authorizer_id]] = {"type": "apiKey", "name": key, "in": place, AUTHORIZER: ext}
    if iam:
        out[sigv4_name(names)] = {
            "type": "apiKey", "name": "Authorization", "in": "header", AUTHTYPE: SIGV4,
        }  # fmt: skip
    return out


def scheme_names(authorizers: Mapping[str, Authorizer]) -> dict[str, str]:
    """authorizer id -> its scheme's name: its own name, its id appended when two share one."""
    counts: dict[str, int] = {}
    for a in authorizers.values():
        counts[a.name] = counts.get(a.name, 0) + 1
    return {i: a.name if counts[a.name] == 1 else f"{a.name}-{i}" for i, a in authorizers.items()}


def sigv4_name(names: Mapping[str, str]) -> str:
    taken = set(names.values())
    name = "sigv4"
    while name in taken:
        name += "-iam"
    return name


def _api_key(sources: tuple[str, ...]) -> tuple[str, str]:
    """An apiKey scheme's ``name`` and ``in``: the first identity source's header or query
    parameter (the Authorization header when it is neither)."""
    for source in sources[:1]:
        for prefix, place in (("$request.header.", "header"), ("$request.querystring.", "query")):
            if source.startswith(prefix):
                return source[len(prefix) :], place
    return "Authorization", "header"


def operation_security(
    extra: Mapping[str, Any], names: Mapping[str, str]
) -> list[dict[str, list[str]]] | None:
    """An exported operation's ``security`` for a route's members (None: an open route)."""
    kind = extra.get("AuthorizationType") or "NONE"
    if kind == "AWS_IAM":
        return [{sigv4_name(names): []}]
    authorizer_id = extra.get("AuthorizerId")
    if kind in ("JWT", "CUSTOM") and isinstance(authorizer_id, str) and authorizer_id in names:
        return [{names[authorizer_id]: list(extra.get("AuthorizationScopes") or ())}]
    return None
