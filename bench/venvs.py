"""The peers' virtual environments under ``bench/.peers/`` (git-ignored), one per library.

Each holds the latest release from PyPI of one library, installed or upgraded with pip, so
that no two peers (nor jobqueue) share a dependency's version.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS_DIR = ROOT / "bench" / ".peers"


@dataclass(frozen=True)
class Peer:
    """A library compared with jobqueue: what to install, and the backend it runs on."""

    name: str
    requirements: tuple[str, ...]
    backend: str

    @property
    def python(self) -> Path:
        """The interpreter of its virtual environment."""
        return PEERS_DIR / self.name / "bin" / "python"

    @property
    def is_installed(self) -> bool:
        """True when its virtual environment exists."""
        return self.python.exists()

    def install(self) -> None:
        """Create the virtual environment if needed, then install or upgrade the library."""
        if not self.is_installed:
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(self.python.parents[1])], check=True)
        command = [str(self.python), "-m", "pip", "install", "--quiet", "--upgrade"]
        subprocess.run([*command, *self.requirements], check=True)

    def version(self) -> str:
        """The installed version of the library."""
        code = f"import importlib.metadata as m; print(m.version({self.name!r}))"
        return subprocess.run(
            [str(self.python), "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()


PEERS = (
    Peer("arq", ("arq",), "redis"),
    # SAQ imports typing_extensions without declaring it.
    Peer("saq", ("saq[redis]", "typing_extensions"), "redis"),
    Peer("celery", ("celery[redis]",), "redis"),
    Peer("rq", ("rq",), "redis"),
    Peer("dramatiq", ("dramatiq[redis]",), "redis"),
    Peer("huey", ("huey", "redis"), "redis"),
    Peer("procrastinate", ("procrastinate",), "postgres"),
)
