"""Schemathesis against /openapi.json with every check, operation by operation and statefully.

Every built-in check runs: no 5xx, every response (each SSE event included) conforms to
the schema, schema-valid requests are accepted and schema-invalid ones refused, 405s list
the documented methods, and, in the stateful phase, links between operations hold (a
submitted job can be read, cancelled and followed). What the contract refuses on purpose
is excluded case by case below, each exclusion naming the rule.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    CheckFunction,
    ensure_resource_availability,
    negative_data_rejection,
    positive_data_acceptance,
)

from jobqueue import JobQueue
from jobqueue.api import ApiSettings, create_app
from tests.api.conftest import make_queue

# API.md lets a long poll and `Prefer: wait` hold the answer up to 60 s, past any test
# client's timeout: here they hold 0.05 s at most.
SETTINGS = ApiSettings(max_wait_seconds=0.05, keepalive_seconds=0.05)


async def _resolve_nowhere(host: str, port: int) -> list[str]:
    """No generated webhook host is looked up: each resolves to no address."""
    return []


def _queue() -> JobQueue:
    queue = make_queue()
    queue.webhook_resolver = _resolve_nowhere
    return queue


schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_queue(), SETTINGS))
schema.config.checks.update(included_check_names=["all"])
# API.md keeps a job's event stream open until the job ends, and no worker runs here:
# the client reads the first event (the job as it is) and hangs up.
schema.config.max_stream_events = 1
LISTS = ("status", "task")  # the repeatable query parameters
BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


BodiesByKey = dict[str, str]
"""The first body each Idempotency-Key came with, as JSON (0, 0.0 and false differ)."""
SEEN_BY_THE_SCHEMA_APP: BodiesByKey = {}


def reused_with_another_body(key: str, body: Any, bodies_by_key: BodiesByKey) -> bool:
    """Whether *key* came with another body before."""
    text = json.dumps(body, sort_keys=True, default=repr)  # no body at all is NotSet
    return bodies_by_key.setdefault(key, text) != text


def refused_on_purpose(
    case: schemathesis.Case[Any], bodies_by_key: BodiesByKey
) -> list[CheckFunction]:
    """The checks *case* may fail because the contract refuses it on purpose, given the
    bodies its app has seen with each Idempotency-Key.
    """
    excluded: list[CheckFunction] = []
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str) and reused_with_another_body(key, case.body, bodies_by_key):
        # API.md: an Idempotency-Key reused with a different body is answered 422, however
        # valid the body. Generated keys repeat across cases with different bodies.
        excluded.append(positive_data_acceptance)
    if case.path == "/api/jobs/events" and len({"ids", "tag"} & set(case.query or {})) != 1:
        # API.md: one stream for many jobs takes exactly one of `ids` and `tag`, else 400;
        # OpenAPI cannot say "exactly one of two query parameters".
        excluded.append(positive_data_acceptance)
    if isinstance(case.body, dict) and case.body.get("webhook") is not None:
        # API.md: a webhook URL whose host is not a public address is refused (400), and
        # no schema can say which hosts are; here no host resolves to one.
        excluded.append(positive_data_acceptance)
    if case.query and any(not isinstance(case.query.get(name, []), list) for name in LISTS):
        # A lone `?task=false` is on the wire exactly the valid one-item list ["false"].
        excluded.append(negative_data_rejection)
    return excluded


# The app runs in schemathesis's thread; its maintenance jitter draws from `random`
# meanwhile, which Hypothesis takes for a strategy using `random`.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@schema.parametrize()
@BOUNDED
def test_the_api_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(excluded_checks=refused_on_purpose(case, SEEN_BY_THE_SCHEMA_APP))


class Scenarios(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences of calls along the schema's links (submit, then read, follow, cancel...).

    Each scenario starts from an empty queue, so that the same calls meet the same answers.
    """

    def setup(self):
        self.app = create_app(_queue(), SETTINGS)
        self.bodies_by_key: BodiesByKey = {}
        self.created: set[str] = set()

    def get_call_kwargs(self, case):
        return {"app": self.app}

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        excluded = refused_on_purpose(case, self.bodies_by_key)
        if case.method == "POST" and response.status_code in (200, 202):
            self.created.add(str(response.json().get("jobId")))
        job_id = (case.path_parameters or {}).get("jobId")
        if job_id is not None and job_id not in self.created:
            # A generated id names no job of this scenario, so its 404 is the contract's;
            # schemathesis would take it for the job submitted just before.
            excluded.append(ensure_resource_availability)
        case.validate_response(
            response,
            additional_checks=additional_checks,
            excluded_checks=excluded,
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_call_sequences_conform_to_the_schema() -> None:
    # Generation only, as schemathesis's own stateful phase runs: a replay for shrinking
    # would meet new job ids and times, so not quite the same answers.
    Scenarios.run(
        settings=settings(BOUNDED, max_examples=30, stateful_step_count=6, phases=[Phase.generate])
    )
