"""The browser side served by the app: the JS client, the demo page and the dashboard."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

STATIC_DIR = Path(str(files("jobqueue.web") / "static"))
