"""The dashboard (``/``, ``/orgs/...``, ``/invite``), the example editor, the browser client
and the interactive API reference (``/docs``: Swagger UI, shipped in the package).

Every dashboard path serves the same page; the page routes in the browser. Built files
come from :mod:`minibase.web` (committed, shipped in the package).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from minibase import __version__
from minibase.errors import NotFound
from minibase.web import STATIC_DIR
from minibase.web.assets import Asset, Assets

router = APIRouter(include_in_schema=False)
assets = Assets(STATIC_DIR, __version__)

# The pages load nothing from another host; sockets go to this server only. The security
# headers middleware adds its general HTML policy too; a browser enforces both, so this
# stricter one decides.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_PAGE_HEADERS = {"Content-Security-Policy": _CSP}
_IMMUTABLE = "public, max-age=31536000, immutable"


def _send(request: Request, asset: Asset, cache_control: str, *, page: bool = False) -> Response:
    headers = {"Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if page:
        # Pages (under a kilobyte) are always sent whole: a 304 carries no Content-Type,
        # so it would get the API's security headers, which a browser merges into the
        # cached page (its CSP would then block the page's own scripts).
        headers.update(_PAGE_HEADERS)
    else:
        headers["ETag"] = asset.etag
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


def _file(request: Request, relative: str, *, versioned: bool = False) -> Response:
    asset = assets.get(relative)
    if asset is None:
        raise NotFound("No such file.")
    return _send(request, asset, _IMMUTABLE if versioned else "no-cache")


def _page(request: Request, name: str) -> Response:
    asset = assets.get(name)
    if asset is None:
        raise NotFound("The dashboard is not built into this installation.")
    return _send(request, asset, "no-cache", page=True)


@router.get("/")
@router.get("/login")
@router.get("/signup")
@router.get("/invite")
@router.get("/orgs")
@router.get("/orgs/{path:path}")
async def dashboard(request: Request) -> Response:
    """The dashboard; it reads the path and shows that page."""
    return _page(request, "index.html")


@router.get("/examples/editor")
async def example_editor(request: Request) -> Response:
    """React Flow + ``createFlowStore`` and nothing else: an editor to copy."""
    return _page(request, "examples/editor.html")


@router.get("/docs")
async def api_docs(request: Request) -> Response:
    """The interactive API reference of ``/openapi.json``; every file it loads is ours."""
    asset = assets.get("api-docs/index.html")
    if asset is None:
        raise NotFound("The API reference is not built into this installation.")
    # The general HTML policy of the security headers applies (no other host).
    return Response(asset.body, media_type=asset.media_type, headers={"Cache-Control": "no-cache"})


@router.get("/static/{path:path}")
async def static_file(request: Request, path: str) -> Response:
    """Built files; under ``/static/v<this version>/`` they may be cached for good."""
    prefix = f"v{assets.version}/"
    if path.startswith(prefix):
        return _file(request, path[len(prefix) :], versioned=True)
    return _file(request, path)


@router.get("/client/{path:path}")
async def client_file(request: Request, path: str) -> Response:
    """``/client/minibase.js`` (an ES module) and its types, ``/client/minibase.d.ts``."""
    return _file(request, "client/" + path)
