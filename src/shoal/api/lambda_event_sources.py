"""Lambda's event source mapping operations, answered for a Shoal that has no event sources.

Shoal runs no queue, stream or broker (SQS, Kinesis, DynamoDB Streams, Kafka, MQ,
DocumentDB), so no mapping can exist: listing answers an empty list in Lambda's shape (what a
deployment tool reads before it creates anything), creating one is refused with an
``InvalidParameterValueException`` that says so, and any UUID is one that does not exist.
"""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call, lambda_api
from shoal.errors import AwsError, invalid_parameter

NO_SOURCES = (
    "Shoal provides no event sources (SQS, Kinesis, DynamoDB Streams, Kafka, Amazon MQ, "
    "DocumentDB), so event source mappings cannot be created; invoke the function directly, "
    "asynchronously, or through an HTTP API or function URL."
)


def _missing() -> AwsError:
    return AwsError("ResourceNotFoundException", "The resource you requested does not exist.")


@lambda_api.handles("ListEventSourceMappings")
async def list_event_source_mappings(call: Call) -> dict[str, Any]:
    return {"EventSourceMappings": []}


@lambda_api.handles("CreateEventSourceMapping")
async def create_event_source_mapping(call: Call) -> None:
    p = call.params
    if not p.get("EventSourceArn") and not p.get("SelfManagedEventSource"):
        raise invalid_parameter("Unrecognized event source.")
    # The function is checked first, as Lambda checks it.
    call.shoal.functions.resolve(p["FunctionName"])
    raise invalid_parameter(NO_SOURCES)


@lambda_api.handles("GetEventSourceMapping")
async def get_event_source_mapping(call: Call) -> None:
    raise _missing()


@lambda_api.handles("UpdateEventSourceMapping")
async def update_event_source_mapping(call: Call) -> None:
    raise _missing()


@lambda_api.handles("DeleteEventSourceMapping")
async def delete_event_source_mapping(call: Call) -> None:
    raise _missing()
