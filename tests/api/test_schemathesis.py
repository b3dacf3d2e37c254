"""Schemathesis against /openapi.json: no 5xx, and every response conforms to the schema.

All of schemathesis's default checks run, including that schema-valid requests are
accepted and schema-invalid ones refused.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import allow_header_conformance, negative_data_rejection

from jobqueue.api import ApiSettings, create_app
from tests.api.conftest import make_queue

# Short holds: generated `Prefer: wait=60` and `?wait=60` must not stall the run.
app = create_app(make_queue(), ApiSettings(max_wait_seconds=0.05, keepalive_seconds=0.05))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
LISTS = ("status", "task")  # the repeatable query parameters


# The app runs in schemathesis's thread; its maintenance jitter draws from `random`
# meanwhile, which Hypothesis takes for a strategy using `random`.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    if case.meta is not None and not case.meta.generation.mode.is_negative:
        # Keys are remembered: a generated key reused with another body is a conflict
        # (422) by contract, not a schema violation. Valid keys are made unique.
        if case.headers and "Idempotency-Key" in case.headers:
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        # A cursor is opaque: only one the server issued is valid.
        if case.query:
            case.query.pop("cursor", None)
    excluded = []
    if case.path == "/api/jobs/submit":
        # GET /api/jobs/submit is GET /api/jobs/{jobId} for the id "submit", so a 405
        # there rightly allows GET, which this path's own entry does not list.
        excluded.append(allow_header_conformance)
    if case.query and any(not isinstance(case.query.get(name, []), list) for name in LISTS):
        # A lone `?task=false` is on the wire exactly the valid one-item list ["false"].
        excluded.append(negative_data_rejection)
    case.call_and_validate(excluded_checks=excluded)
