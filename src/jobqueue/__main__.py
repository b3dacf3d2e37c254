"""``python -m jobqueue``: the command line."""

from __future__ import annotations

from jobqueue.cli import main

main()
