"""Lambda's log format for the ``logging`` root handler:
``[LEVEL]\\t2024-01-02T03:04:05.678Z\\t<request id>\\t<message>``."""

from __future__ import annotations

import logging
import os
import sys
import time

FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
DATEFMT = "%Y-%m-%dT%H:%M:%S"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the invocation in progress (one at a time)."""

    def __init__(self) -> None:
        super().__init__()
        self.request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class LambdaFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)


def configure_logging() -> RequestIdFilter:
    """Replace the root logger's handlers with one that writes Lambda's format to stderr."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LambdaFormatter(FORMAT, DATEFMT))
    request_filter = RequestIdFilter()
    handler.addFilter(request_filter)
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level and level.upper() in logging._nameToLevel:  # noqa: SLF001 (stdlib table)
        root.setLevel(level.upper())
    return request_filter
