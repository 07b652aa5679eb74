"""The gateway owns HTTP framing: which of a function's response headers reach the client.

A function's ``headers`` are end-to-end metadata. How the message is delimited and what happens
to the connection are the gateway's business alone: copied from a function, ``Content-Length``
or ``Transfer-Encoding`` give the client a second length (every Mangum or serverless-wsgi
response already carries ``content-length``, and Node's HTTP parser refuses a response with
two), and ``Connection: close`` or a chunked coding let a function split or desynchronise the
client's connection.

So these are never copied (RFC 9110 §7.6.1 for the hop-by-hop fields, plus ``Content-Length``,
which the gateway computes from the body it sends, after base64 decoding):

- ``Connection``, ``Keep-Alive``, ``Proxy-Connection``, ``TE``, ``Trailer``,
  ``Transfer-Encoding``, ``Upgrade``, ``Proxy-Authenticate``, ``Proxy-Authorization``,
  ``Content-Length``, and any header that the function's ``Connection`` header names.

What happens to them is each endpoint type's own behaviour:

- **HTTP APIs** (payload 1.0 and 2.0) drop them. They are among the API Gateway developer
  guide's *reserved headers* for HTTP APIs (those no parameter mapping may set), and the guide
  documents no ``x-amzn-Remapped-*`` renaming for HTTP APIs: that is REST APIs' behaviour (its
  "important notes" table, which LocalStack reproduces against AWS: Connection, Content-Length,
  Date and Server remapped, Transfer-Encoding dropped, for Lambda proxy integrations).
- **Function URLs** keep what the function said under ``x-amzn-Remapped-<name>``, as Lambda
  does (reported from AWS: a function URL's answer to a function that set ``content-length``
  carries ``x-amzn-remapped-content-length``), except ``Transfer-Encoding``, which is dropped as
  API Gateway drops it from every integration response. The Lambda guide lists no reserved
  headers for function URLs; the other hop-by-hop headers are remapped like Content-Length.

Names arrive lower-cased (the response mapper lower-cases them, so ``Content-Length`` and
``content-length`` are one name). A name that is not an HTTP token, or a value with a control
character (CR, LF, NUL), is a malformed response and raises ``ValueError``: the caller answers
API Gateway's 500, rather than let the HTTP server fail the write.
"""

from __future__ import annotations

import re

Headers = list[tuple[bytes, bytes]]

RESERVED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"content-length",
    }
)
DROPPED_BY_FUNCTION_URLS = frozenset({b"transfer-encoding"})
REMAPPED_PREFIX = b"x-amzn-remapped-"

# RFC 9110 §5.6.2 token characters; values may hold visible characters, spaces and tabs.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def _nominated(headers: Headers) -> frozenset[bytes]:
    """Header names listed in the function's Connection header(s): hop-by-hop by declaration."""
    names: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            names.update(part.strip().lower() for part in value.split(b","))
    names.discard(b"")
    return frozenset(names)


def own(headers: Headers, remap: bool) -> Headers:
    """``headers`` without what the gateway owns: dropped (HTTP APIs) or, with ``remap``,
    renamed to ``x-amzn-remapped-<name>`` (function URLs). Raises ValueError when a header is
    malformed."""
    for name, value in headers:
        if _TOKEN.fullmatch(name) is None or _BAD_VALUE.search(value) is not None:
            raise ValueError(f"malformed response header {name!r}")
    reserved = RESERVED
    if any(name == b"connection" for name, _ in headers):
        reserved = RESERVED | _nominated(headers)
    out: Headers = []
    for name, value in headers:
        if name not in reserved:
            out.append((name, value))
        elif remap and name not in DROPPED_BY_FUNCTION_URLS:
            out.append((REMAPPED_PREFIX + name, value))
    return out
