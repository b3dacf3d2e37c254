"""docs/api.md stays true to /openapi.json: the operations it heads, the fields it names."""

from __future__ import annotations

import re
from typing import Any

import pytest

from jobqueue.api import create_app
from tests.api.conftest import make_queue
from tests.support.processes import ROOT

DOC = (ROOT / "docs" / "api.md").read_text()
SCHEMA = create_app(make_queue()).openapi()
METHODS = ("get", "head", "post", "put", "patch", "delete")
# `### `POST /api/jobs` — submit a job`: a heading that documents one operation.
OPERATION_HEADING = re.compile(r"^#+ `([A-Z]+) (/\S*)`", re.MULTILINE)


def _named(field: str) -> bool:
    return f"`{field}`" in DOC


def _submit_fields() -> set[str]:
    body = SCHEMA["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["application/json"]
    variants = body["schema"].get("anyOf", [body["schema"]])
    return {field for variant in variants for field in variant["properties"]}


def _job_fields() -> set[str]:
    job: dict[str, Any] = SCHEMA["components"]["schemas"]["JobOut"]
    return set(job["properties"])


def _not_yet_served_section() -> str:
    return DOC[DOC.index("## Not served yet") :]


def test_every_operation_is_headed_and_every_heading_is_an_operation() -> None:
    served = {
        (method.upper(), path)
        for path, operations in SCHEMA["paths"].items()
        for method in operations
        if method in METHODS
    }
    documented = set(OPERATION_HEADING.findall(DOC))
    assert documented == served


@pytest.mark.parametrize("field", sorted(_submit_fields()))
def test_every_submit_field_is_named(field: str) -> None:
    assert _named(field)


@pytest.mark.parametrize("field", sorted(_job_fields()))
def test_every_job_field_is_named(field: str) -> None:
    assert _named(field)


@pytest.mark.parametrize(
    "field", re.findall(r"^\| submit field `(\w+)`", _not_yet_served_section(), re.MULTILINE)
)
async def test_submit_fields_marked_not_served_are_refused_as_such(client, field: str) -> None:
    assert field not in _submit_fields()
    response = await client.post("/api/jobs", json={"payload": 1, field: None})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": field, "message": "not supported by this server yet"}
    ]
