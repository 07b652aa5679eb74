"""Shoal's own file-system endpoints, under ``/shoal/fs/``, for the CLI on the same host.

``shoal fs mount`` needs host paths, which the AWS API never reveals:

- ``GET  /shoal/fs/file-systems/{fs}/path`` -> ``{"FileSystemId", "Path", "ReadOnly",
  "RootSquash"}``
- ``POST /shoal/fs/access-points/{ap}/path`` -> ``{"AccessPointId", "FileSystemId", "Path",
  "Uid", "Gid", "SecondaryGids", "ReadOnly", "RootSquash"}`` (creates the root directory as a
  first mount does)

Both carry the identity rule for a host client (no IAM principal, as an NFS client), from
:mod:`shoal.filesystems.identity`: ``Uid``/``Gid`` is the user every identity becomes (already
root-squashed when the policy withholds ``ClientRootAccess``), else null and ``RootSquash`` says
whether root is squashed; a policy that withholds ``ClientMount`` answers 403.
- ``GET  /shoal/fs/file-systems/{fs}/du?depth=N`` -> ``{"Total", "Entries": [{"Path", "Bytes"}]}``
- ``GET  /shoal/fs/mount-targets/{mt}`` -> ``{"MountTargetId", "IpAddress", "Port", "TlsPort",
  ...}`` (``TlsPort``: NFS over TLS, null when the server serves no TLS)

Errors are ``{"ErrorCode", "Message"}`` with the EFS status of the code; another method than
the one a path takes is a 405 in that shape too, with ``Allow``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, Router

from shoal.errors import AwsError
from shoal.filesystems import metering, rootdir

if TYPE_CHECKING:
    from shoal.filesystems.service import FileSystemService

_STATUS = {
    "FileSystemNotFound": 404, "AccessPointNotFound": 404, "MountTargetNotFound": 404,
    "EFSMountFailureException": 403,
}  # fmt: skip

MAX_DEPTH = 64  # du's depth: deeper asks walk the whole tree once per level for nothing


_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
Endpoint = Callable[[Request], Awaitable[JSONResponse]]


def _only(method: str, endpoint: Endpoint) -> Endpoint:
    """``endpoint`` for ``method``; any other answers a JSON 405 (Starlette's own is text)."""

    async def checked(request: Request) -> JSONResponse:
        if request.method == method or (method == "GET" and request.method == "HEAD"):
            return await endpoint(request)
        body = {"ErrorCode": "MethodNotAllowed", "Message": f"{request.url.path} takes {method}"}
        return JSONResponse(body, status_code=405, headers={"Allow": method})

    return checked


def _route(path: str, method: str, endpoint: Endpoint) -> Route:
    return Route(path, _only(method, endpoint), methods=_ANY_METHOD)


def _no_mount(fs_id: str, what: str) -> AwsError:
    return rootdir.mount_failure(
        f"The file system policy of {fs_id} does not allow clients without an IAM identity "
        f"to mount {what} (elasticfilesystem:ClientMount)."
    )


class FsEndpoint:
    def __init__(self, service: FileSystemService) -> None:
        self.service = service
        self.app = Router(
            routes=[
                _route("/shoal/fs/file-systems/{fs}/path", "GET", self.fs_path),
                _route("/shoal/fs/file-systems/{fs}/du", "GET", self.du),
                _route("/shoal/fs/access-points/{ap}/path", "POST", self.ap_path),
                _route("/shoal/fs/mount-targets/{mt}", "GET", self.mount_target),
            ],
            default=self._not_found,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    @staticmethod
    def _bad(message: str) -> JSONResponse:
        return JSONResponse({"ErrorCode": "BadRequest", "Message": message}, status_code=400)

    @staticmethod
    async def _not_found(scope: Any, receive: Any, send: Any) -> None:
        response = JSONResponse({"ErrorCode": "NotFound", "Message": "Not Found"}, 404)
        await response(scope, receive, send)

    @staticmethod
    def _error(e: AwsError) -> JSONResponse:
        return JSONResponse(
            {"ErrorCode": e.code, "Message": e.message}, status_code=_STATUS.get(e.code, 400)
        )

    async def fs_path(self, request: Request) -> JSONResponse:
        try:
            fs = self.service.get_file_system(request.path_params["fs"])
            self.service.check_key(fs)
            ident = self.service.policies.identity(fs, None, None)
            if not ident.mount:
                raise _no_mount(fs.id, "the file system")
        except AwsError as e:
            return self._error(e)
        return JSONResponse({
            "FileSystemId": fs.id, "Path": str(self.service.root(fs.id)),
            "ReadOnly": ident.read_only, "RootSquash": ident.root_squash,
        })  # fmt: skip

    async def ap_path(self, request: Request) -> JSONResponse:
        svc = self.service
        try:
            ap = svc.get_access_point(request.path_params["ap"])
            fs = svc.get_file_system(ap.file_system_id)
            svc.check_key(fs)
            ident = svc.policies.identity(fs, ap, None)
            if not ident.mount:
                raise _no_mount(fs.id, f"access point {ap.id}")
            try:
                path = await asyncio.to_thread(svc.access_point_root, ap)
            except rootdir.RootDirectoryError as e:
                raise rootdir.mount_failure(f"Access point {ap.id}: {e}") from None
        except AwsError as e:
            return self._error(e)
        user = ident.user
        return JSONResponse({
            "AccessPointId": ap.id, "FileSystemId": fs.id, "Path": path,
            "Uid": user.uid if user else None, "Gid": user.gid if user else None,
            "SecondaryGids": list(user.secondary_gids) if user else [],
            "ReadOnly": ident.read_only, "RootSquash": ident.root_squash,
        })  # fmt: skip

    async def du(self, request: Request) -> JSONResponse:
        try:
            fs = self.service.get_file_system(request.path_params["fs"])
        except AwsError as e:
            return self._error(e)
        try:
            depth = int(request.query_params.get("depth", "2"))
        except ValueError:
            return self._bad(f"depth must be an integer, not {request.query_params['depth']!r}")
        if not 0 <= depth <= MAX_DEPTH:
            return self._bad(f"depth must be between 0 and {MAX_DEPTH}")
        rows = await asyncio.to_thread(metering.breakdown, self.service.root(fs.id), depth)
        return JSONResponse({
            "FileSystemId": fs.id, "Total": rows[0][1] if rows else 0,
            "Entries": [{"Path": p, "Bytes": b} for p, b in rows],
        })  # fmt: skip

    async def mount_target(self, request: Request) -> JSONResponse:
        try:
            t = self.service.targets.get(request.path_params["mt"])
        except AwsError as e:
            return self._error(e)
        return JSONResponse({
            "MountTargetId": t.id, "FileSystemId": t.file_system_id, "IpAddress": t.ip_address,
            "Port": t.port, "LifeCycleState": t.lifecycle_state,
            "TlsPort": None if self.service.targets.terminators.unavailable() else t.tls_port,
        })  # fmt: skip
