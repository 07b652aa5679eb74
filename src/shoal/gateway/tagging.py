"""Tags of API Gateway v2 resources, addressed by ARN as ``TagResource`` addresses them.

An HTTP API is ``arn:aws:apigateway:REGION::/apis/ID`` and its stage
``arn:aws:apigateway:REGION::/apis/ID/stages/NAME``. Tags live in the resource's ``extra``
under ``Tags`` (so ``GetApi``/``GetStage`` answer them as ``CreateApi``/``CreateStage`` were
given them) and are saved with the API's document. Pure functions of an :class:`Api` snapshot;
the registry persists the result.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shoal.gateway.models import Api
from shoal.gateway.rules import bad_request, not_found

MAX_TAGS = 50  # API Gateway's limit per resource
_ARN = re.compile(r"arn:aws:apigateway:([a-z0-9-]+)::/apis/([^/]+)(?:/stages/([^/]+))?")


@dataclass(frozen=True)
class TagTarget:
    region: str
    api_id: str
    stage_name: str | None  # None: the API itself


def parse_arn(arn: str) -> TagTarget:
    """The API or stage an ARN names; BadRequestException for anything else."""
    found = _ARN.fullmatch(arn)
    if found is None:
        raise bad_request("Invalid ARN specified in the request")
    return TagTarget(found[1], found[2], found[3])


def tags_of(api: Api, target: TagTarget) -> dict[str, str]:
    if target.stage_name is None:
        return dict(api.extra.get("Tags") or {})
    stage = api.stages.get(target.stage_name)
    if stage is None:
        raise not_found("Stage", target.stage_name)
    return dict(stage.extra.get("Tags") or {})


def with_tags(api: Api, target: TagTarget, tags: Mapping[str, str]) -> Api:
    """``api`` with the target's tags replaced by ``tags``."""
    check(tags)
    if target.stage_name is None:
        return dataclasses.replace(api, extra={**api.extra, "Tags": dict(tags)})
    stage = api.stages[target.stage_name]
    stage = dataclasses.replace(stage, extra={**stage.extra, "Tags": dict(tags)})
    return dataclasses.replace(api, stages={**api.stages, target.stage_name: stage})


def check(tags: Mapping[str, str]) -> None:
    """BadRequestException for tags API Gateway refuses (any resource's)."""
    if len(tags) > MAX_TAGS:
        raise bad_request(f"Too many tags: a resource can have at most {MAX_TAGS} tags")
    for key in tags:
        if key.lower().startswith("aws:"):
            raise bad_request(f"Tag keys can't start with aws: ({key})")


def added(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    return {**old, **new}


def removed(old: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    gone = set(keys)
    return {k: v for k, v in old.items() if k not in gone}
