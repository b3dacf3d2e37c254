"""The JS client's own suite (``node --test`` in clients/js), with its contract tests run
against the real demo server through ``JOBQUEUE_TEST_SERVER``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "js"

pytestmark = pytest.mark.slow


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path:
        return path
    reason = f"{tool} is not installed (apt-get install -y nodejs npm)"
    if IN_CI:
        pytest.fail(f"{reason}; CI must run the JS client's tests")
    pytest.skip(reason)


@pytest.mark.timeout(300)
def test_node_suite_passes_against_the_real_server(demo_server: str) -> None:
    node = _require("node")
    if not (CLIENT_DIR / "node_modules").is_dir():
        npm = _require("npm")
        # `npm ci` installs exactly the lock file; the dev dependencies come from npm's registry.
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT_DIR, check=True, timeout=240
        )
    run = subprocess.run(
        [node, "--test", "--test-reporter=tap"],
        cwd=CLIENT_DIR,
        env={**os.environ, "JOBQUEUE_TEST_SERVER": demo_server},
        capture_output=True,
        text=True,
        timeout=240,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "# fail 0" in report, report
    # A skipped suite does not count as skipped tests, so look for a contract test that passed.
    assert "# SKIP" not in report, report
    assert re.search(r"^\s*ok \d+ - submit, follow with progress", report, re.MULTILINE), report
