"""The parts of the OpenAPI document FastAPI cannot infer: the submit body and the errors.

The submit body is read by hand (to check its size before reading it), so its schema
is built here: one variant per registered task, each with that task's payload schema.
Error answers are ``application/problem+json``. Both are written as self-contained
schemas (no ``$ref``) so they stay valid wherever the router is mounted.
"""

from __future__ import annotations

import copy
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from jobqueue.api.schemas import Problem, SubmitFields
from jobqueue.wire import JobOut

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import BaseModel

    from jobqueue.queue import JobQueue
    from jobqueue.tasks import Task

JSONSchema = dict[str, Any]

ANY_BUT_NULL: JSONSchema = {"not": {"type": "null"}, "description": "Any JSON value but null."}


def inline(schema: JSONSchema) -> JSONSchema:
    """*schema* with its local ``$ref`` s replaced by their definitions.

    A definition that refers to itself (a recursive model) is cut at the second
    level and accepts any value there.
    """
    definitions = schema.get("$defs", {})

    def resolve(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in seen or name not in definitions:
                return {}
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            return {**resolve(definitions[name], seen | {name}), **resolve(siblings, seen)}
        return {k: resolve(v, seen) for k, v in node.items() if k != "$defs"}

    resolved: JSONSchema = resolve(copy.deepcopy(schema), frozenset())
    return resolved


def payload_schema(task: Task) -> JSONSchema:
    """The schema of *task*'s payload (any JSON but null when the task declares none)."""
    declared = task.payload_schema()
    if declared is None:
        return dict(ANY_BUT_NULL)
    return inline(declared)


def submit_body_schema(queue: JobQueue) -> JSONSchema:
    """The submit body: for each task, its name and its payload schema, plus the options."""
    options: dict[str, JSONSchema] = inline(SubmitFields.model_json_schema())["properties"]
    variants = []
    for task in sorted(queue.tasks, key=lambda t: t.name):
        is_default = task.name == queue.tasks.default
        name: JSONSchema = {"type": "string", "const": task.name}
        variants.append(
            {
                "title": f"Submit {task.name}",
                "type": "object",
                "properties": {
                    **options,
                    "task": {"anyOf": [name, {"type": "null"}]} if is_default else name,
                    "payload": payload_schema(task),
                },
                "required": ["payload"] if is_default else ["payload", "task"],
                "additionalProperties": False,
            }
        )
    if not variants:
        return {
            "type": "object",
            "properties": {**options, "payload": ANY_BUT_NULL},
            "additionalProperties": False,
        }
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def submit_request_body(queue: JobQueue) -> JSONSchema:
    """The ``requestBody`` object of the submit operations."""
    tasks = ", ".join(f"`{t.name}`" for t in sorted(queue.tasks, key=lambda t: t.name))
    default = queue.tasks.default
    description = f"The job to run. Tasks: {tasks or 'none registered'}."
    if default:
        description += f" Without `task`, `{default}` runs."
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": submit_body_schema(queue)}},
    }


# Serialization mode: the schema of what the server sends (the job in it always has
# every field).
PROBLEM_SCHEMA = inline(Problem.model_json_schema(mode="serialization"))
JOB_SCHEMA = inline(JobOut.model_json_schema(mode="serialization"))

JOB_EVENT_SCHEMA: JSONSchema = {
    "title": "Job event",
    "description": "One event of a job's stream (the fields of an SSE event, as OpenAPI 3.2 "
    "and FastAPI describe them with `itemSchema`).",
    "type": "object",
    "properties": {
        "event": {"const": "job"},
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The job's version."},
        "retry": {
            "type": "integer",
            "minimum": 0,
            "description": "On the first event: the reconnection delay in milliseconds.",
        },
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": JOB_SCHEMA,
            "description": "The job, as one line of JSON.",
        },
    },
    "required": ["event", "id", "data"],
}

JOB_SET_EVENT_SCHEMA: JSONSchema = {
    **JOB_EVENT_SCHEMA,
    "title": "Job set event",
    "description": "One event of a stream of many jobs (the fields of an SSE event).",
    "properties": {
        **JOB_EVENT_SCHEMA["properties"],
        "id": {
            "type": "string",
            "pattern": "^[0-9a-f]{16}$",
            "description": "Stands for the versions of every job sent so far: send it back "
            "as `Last-Event-ID` when reconnecting.",
        },
    },
}


def problems(*statuses: int, descriptions: Mapping[int, str] | None = None) -> dict[int | str, Any]:
    """Response objects for error *statuses*, served as ``application/problem+json``.

    A ``default`` response (an unexpected error) is always included; it also keeps
    FastAPI from documenting a 422 for parameters, which this API answers with 400.
    """
    responses: dict[int | str, Any] = {
        "default": {
            "description": "An unexpected error.",
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
    }
    for status in statuses:
        response: dict[str, Any] = {
            "description": (descriptions or {}).get(status, HTTPStatus(status).phrase),
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        if status in (429, 503):
            response["headers"] = {
                "Retry-After": header("Seconds to wait before trying again.", True, integer=True)
            }
        if status == 429:
            response["headers"] |= {
                "RateLimit-Policy": header('The limit: `"<name>";q=<amount>;w=<seconds>`.'),
                "RateLimit": header('What is left of it: `"<name>";r=0;t=<seconds>`.'),
            }
        if status == 401:
            response["headers"] = {"WWW-Authenticate": header("The scheme to use: Bearer.", True)}
        responses[status] = response
    return responses


def answer(
    model: type[BaseModel], description: str, headers: Mapping[str, JSONSchema] | None = None
) -> dict[str, Any]:
    """A response object whose JSON body *model* documents (FastAPI writes its schema)."""
    response: dict[str, Any] = {"model": model, "description": description}
    if headers:
        response["headers"] = dict(headers)
    return response


def header(description: str, required: bool = False, *, integer: bool = False) -> JSONSchema:
    """A response header object."""
    schema: JSONSchema = {"type": "integer", "minimum": 1} if integer else {"type": "string"}
    return {"description": description, "required": required, "schema": schema}
