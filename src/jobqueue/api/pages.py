"""The browser side: the JS client, the dashboard, the demo page and their static files.

The files are built separately into `jobqueue.web.STATIC_DIR`; a file that is not there
answers 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from jobqueue.web import STATIC_DIR

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    from fastapi import FastAPI


def _file(name: str) -> Callable[[], Coroutine[Any, Any, Response]]:
    async def serve() -> Response:
        path = STATIC_DIR / name
        if not path.is_file():
            raise HTTPException(404, f"{name} is not built")
        return FileResponse(path, headers={"Cache-Control": "no-cache"})

    return serve


def add_pages(app: FastAPI, *, demo: bool) -> None:
    """Serve ``/jobqueue.js``, ``/dashboard``, ``/static/...`` and ``/``.

    ``/`` is the demo page when *demo* is set, else a redirect to the dashboard.
    """
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/jobqueue.js", _file("jobqueue.js"), methods=["GET"])
    router.add_api_route(
        "/dashboard", _file("dashboard.html"), methods=["GET"], name="jobqueue_dashboard"
    )
    if demo:
        router.add_api_route("/", _file("index.html"), methods=["GET"])
    else:

        async def home(request: Request) -> Response:
            return RedirectResponse(request.url_for("jobqueue_dashboard").path)

        router.add_api_route("/", home, methods=["GET"])
    app.include_router(router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
