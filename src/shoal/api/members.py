"""The members of a structure shape with their wire facts (location, wire name, look-up key,
target shape) worked out once per model: what the rest-json codec and validation walk on the
hot path."""

from __future__ import annotations

from dataclasses import dataclass

from shoal.api.model import ServiceModel, Shape, group_name


@dataclass(frozen=True)
class Member:
    """One member of an input or output structure, with its wire facts worked out once."""

    name: str
    location: str | None  # "uri", "querystring", "header", "headers", "statusCode" or None
    wire: str  # locationName (headers: as sent, see ``key``)
    key: str  # what to look up: the URI group name, lower-cased header (prefix), query key
    target: Shape
    kind: str  # the target shape's type
    is_payload: bool
    path: str  # how validation messages name it (camelCase)


def members(model: ServiceModel, shape_name: str) -> tuple[Member, ...]:
    """The members of a structure shape, compiled once per model (the hot path parses and
    serialises the same few shapes again and again)."""
    cache = model.codec_cache
    found: tuple[Member, ...] | None = cache.get(shape_name)
    if found is None:
        shape = model.shape(shape_name)
        payload_name = shape.get("payload")
        members = []
        for name, member in shape.get("members", {}).items():
            location = member.get("location")
            wire = member.get("locationName", name)
            if location == "uri":
                key = group_name(wire)
            elif location in ("header", "headers"):
                key = wire.lower()
            else:
                key = wire
            target = model.shape(member["shape"])
            members.append(
                Member(
                    name,
                    location,
                    wire,
                    key,
                    target,
                    target["type"],
                    name == payload_name,
                    camel(name),
                )
            )
        found = cache[shape_name] = tuple(members)
    return found


def camel(name: str) -> str:
    """How AWS's validation messages name a member (``functionName``)."""
    return name[:1].lower() + name[1:]
