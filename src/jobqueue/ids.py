"""Identifiers: unguessable job ids, lease tokens and worker ids."""

from __future__ import annotations

import os
import socket
import uuid


def new_job_id() -> str:
    """A random UUID4 (122 bits from the OS's secure generator)."""
    return str(uuid.uuid4())


def new_token() -> str:
    """A fresh fencing token for one claim."""
    return uuid.uuid4().hex


def new_worker_id() -> str:
    """An id naming this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
