"""docs/api.md and the server's own schema name the same endpoints and submit fields."""

from __future__ import annotations

import re

from jobqueue.api import create_app
from tests.api.conftest import make_queue
from tests.support.processes import ROOT

DOC = (ROOT / "docs" / "api.md").read_text()
SCHEMA = create_app(make_queue()).openapi()
METHODS = {"get", "post", "put", "patch", "delete"}


def test_every_endpoint_served_is_documented_and_every_documented_one_served() -> None:
    served = {
        f"{method.upper()} {path}"
        for path, operations in SCHEMA["paths"].items()
        for method in operations
        if method in METHODS
    }
    documented = set(re.findall(r"^### `([A-Z]+ /\S+)`", DOC, flags=re.MULTILINE))

    assert documented == served


def test_every_submit_field_is_documented() -> None:
    operation = SCHEMA["paths"]["/api/jobs"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    fields = {name for variant in body["anyOf"] for name in variant["properties"]}
    table = DOC[DOC.index("### `POST /api/jobs` — submit") :].split("Headers:")[0]

    assert fields == set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))


def test_every_field_of_the_job_is_documented() -> None:
    job = SCHEMA["components"]["schemas"]["JobOut"]["properties"]
    table = DOC[DOC.index("## The job") : DOC.index("## Endpoints")]

    assert set(job) == set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))
