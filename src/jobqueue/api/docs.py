"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), with no request to another host.

Their scripts and styles are the builds the `fastapi-offline` package bundles, served
under ``/docs/assets``; the favicon is the service's own. So the pages work on a
machine without internet. A content security policy holds them to this origin: ReDoc's
side menu shows Redocly's logo from its CDN, which the browser then does not fetch (the
menu hides the image it could not load).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.responses import HTMLResponse

ASSETS = "/docs/assets"
FAVICON = "/static/favicon.svg"
# Both pages start from an inline script or style; ReDoc searches in a worker from a blob.
SAME_ORIGIN_ONLY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:"
)


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets for *app*, built with
    ``docs_url=None, redoc_url=None``.
    """
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    router = APIRouter(include_in_schema=False)

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=root + FAVICON,
            # No badge from the public validator (a request to its host).
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _same_origin_only(page)

    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=root + FAVICON,
            with_google_fonts=False,
        )
        return _same_origin_only(page)

    router.add_api_route("/docs", swagger_ui, methods=["GET"], name="jobqueue_docs")
    router.add_api_route("/redoc", redoc, methods=["GET"], name="jobqueue_redoc")
    app.include_router(router)
    app.mount(
        ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="jobqueue_docs_assets"
    )


def _same_origin_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = SAME_ORIGIN_ONLY
    return page


def _root(request: Request) -> str:
    """The path the app is mounted under, without a trailing slash."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
