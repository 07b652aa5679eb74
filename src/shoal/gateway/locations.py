"""Redirects through a path-style endpoint: the prefix Shoal added, put back into ``Location``.

A function behind ``{base}/execute-api/{apiId}/…`` never sees ``/execute-api/{apiId}`` (its
event is the one AWS would send: ``rawPath`` from the stage on), so the redirects a web app
makes name paths without it: ``Location: /login`` (Flask's ``redirect(url_for(...))``), or
``http://127.0.0.1:9000/login`` (Starlette's ``request.url_for`` with the request's ``Host``).
Followed as they are, both leave the API. :func:`rebase` puts the prefix in front of the path
of a ``Location`` that is an absolute path, or an absolute URL whose authority is the request's
``Host``; anything else (another host, a relative reference, a path already under the prefix)
is left as it is. Host-style requests (``{apiId}.execute-api.localhost``) need none of this:
there the function's paths are the URL's paths.
"""

from __future__ import annotations

from shoal.gateway.responses import Headers


def rebased(location: str, prefix: str, host: str | None) -> str:
    """``location`` with ``prefix`` (``/execute-api/abc``) before its path, where it is due."""
    if location.startswith("/"):
        if location.startswith("//"):  # scheme-relative: another authority
            return location
        origin, path = "", location
    else:
        scheme, sep, rest = location.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or host is None:
            return location
        authority, slash, tail = rest.partition("/")
        for end in "?#":
            if end in authority:  # http://host?x : no path at all
                authority, _, after = authority.partition(end)
                tail, slash = end + after, ""
                break
        if authority.lower() != host.lower():
            return location
        origin = f"{scheme}://{authority}"
        path = slash + tail if slash else "/" + tail
    if path == prefix or path.startswith((prefix + "/", prefix + "?", prefix + "#")):
        return location
    return origin + prefix + path


def rebase(headers: Headers, prefix: str, host: str | None) -> None:
    """Rewrite, in place, the ``Location`` headers of a path-style request's response."""
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"location":
            text = value.decode("latin-1")
            new = rebased(text, prefix, host)
            if new is not text:
                headers[i] = (name, new.encode("latin-1"))
