"""``python -m bench.peers LIBRARY WORKLOAD [options]``: run one workload, print JSON.

The adapter is imported by its module name (never run as ``__main__``), so the task
functions its worker processes import are the very ones the client enqueues.
"""

from __future__ import annotations

import importlib
import sys

from bench.peers._common import main

if __name__ == "__main__":
    library = sys.argv[1]
    module = importlib.import_module(f"bench.peers.{library}_bench")
    main(module.Adapter, sys.argv[2:])
