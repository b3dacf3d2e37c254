"""The web files: pages need nothing from outside, and every page and asset is served.

clients/js/jobqueue.js is a link to the packaged src/jobqueue/web/static/jobqueue.js, so
the npm package and the served file are one file.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from jobqueue.web import STATIC_DIR

CANONICAL = Path(__file__).resolve().parents[2] / "clients" / "js" / "jobqueue.js"


def test_pages_reference_only_local_files() -> None:
    # Nothing outside the machine is reachable, and the pages must not need it.
    for page in STATIC_DIR.glob("*.html"):
        text = page.read_text()
        assert not re.search(r"""(src|href)=["'](https?:)?//""", text), page.name
    for script in STATIC_DIR.glob("*.js"):
        assert not re.search(r"""from\s+["'](https?:)?//""", script.read_text()), script.name


def test_the_server_serves_the_client_pages_and_assets(demo_server: str) -> None:
    with httpx.Client(base_url=demo_server, timeout=10) as http:
        assert http.get("/jobqueue.js").content == CANONICAL.read_bytes()
        for path in ["/", "/dashboard"]:
            page = http.get(path)
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            for asset in re.findall(r"""(?:src|href)="(/static/[^"]+)""", page.text):
                assert http.get(asset).status_code == 200, asset
        for name in ["demo.js", "dashboard.js", "detail.js", "ui.js", "jobqueue.js"]:
            script = http.get(f"/static/{name}")
            assert script.status_code == 200, name
            assert "javascript" in script.headers["content-type"], name
