"""Typed errors that carry an AWS error code.

Services raise :class:`AwsError` (or a subclass); the API layer turns it into the wire shape of
the service being called in one place (``shoal.api.codec``): the HTTP status and the name of the
message member come from the service model's error shape, so a service never knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """An error with an AWS error code (``ResourceNotFoundException``, ``FileSystemNotFound``...).

    ``status`` overrides the HTTP status of the model's error shape (needed only for codes that
    the model does not list). ``fields`` are extra members of the error shape, such as
    ``FileSystemId`` for ``FileSystemAlreadyExists`` or ``Reason`` for
    ``TooManyRequestsException``.
    """

    def __init__(self, code: str, message: str, status: int | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields

    def __repr__(self) -> str:
        return f"AwsError({self.code!r}, {self.message!r})"


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message)


def invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message)


def conflict(message: str) -> AwsError:
    return AwsError("ResourceConflictException", message)
