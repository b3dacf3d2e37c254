"""Reading a submit body safely: JSON only, bounded in size and depth, then validated.

The size limit is checked against ``Content-Length`` before anything is read, and
again while the body streams in, so an oversized body is refused without being held
in memory whole (whatever its declared length).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import orjson
import pydantic

from jobqueue.api.problems import PayloadTooLarge, UnsupportedMediaType
from jobqueue.api.schemas import SubmitFields
from jobqueue.errors import InvalidRequest, field_errors

if TYPE_CHECKING:
    from starlette.requests import Request

    from jobqueue.models import JSONValue

PAYLOAD_REQUIRED = "Payload required"


def is_json_media_type(content_type: str) -> bool:
    """Whether *content_type* is ``application/json`` or an ``application/*+json`` type."""
    media_type, _, params = content_type.partition(";")
    media_type = media_type.strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in {
            "utf-8",
            "utf8",
        }:
            return False
    return True


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body; `PayloadTooLarge` as soon as it is known to exceed *max_bytes*."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("Invalid Content-Length header")
        if int(declared) > max_bytes:
            raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {max_bytes}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"The body is larger than the limit of {max_bytes} bytes")
    return bytes(body)


def _too_deep(value: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


async def read_json(request: Request, *, max_bytes: int, max_depth: int) -> Any:
    """The body decoded as JSON.

    Raises `UnsupportedMediaType` (415) for a body that is not declared JSON,
    `PayloadTooLarge` (413), and `InvalidRequest` (400) for a missing, malformed or
    too deeply nested body.
    """
    content_type = request.headers.get("content-type")
    if content_type is not None and not is_json_media_type(content_type):
        raise UnsupportedMediaType()
    raw = await read_body(request, max_bytes)
    if not raw.strip():
        raise InvalidRequest(PAYLOAD_REQUIRED)
    if content_type is None:
        raise UnsupportedMediaType()
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Malformed JSON: {exc}") from None
    if isinstance(value, dict | list) and _too_deep(value, max_depth):
        raise InvalidRequest(f"The JSON is nested more than {max_depth} levels deep")
    return value


SUBMIT_FIELDS = frozenset(
    {"payload", *(f.alias or name for name, f in SubmitFields.model_fields.items())}
)


def parse_submit(body: Any) -> tuple[JSONValue, SubmitFields]:
    """The payload and the other fields of a submit body; `InvalidRequest` (400) if invalid.

    A field the contract does not name is refused, never ignored: a misspelt ``delay``
    would otherwise run the job at once.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object with a payload")
    unknown = [(name, _refusal(name)) for name in body if name not in SUBMIT_FIELDS]
    if unknown:
        raise InvalidRequest.of_fields(unknown)
    payload = body.get("payload")
    if payload is None:
        raise InvalidRequest(PAYLOAD_REQUIRED)
    try:
        options = SubmitFields.model_validate({k: v for k, v in body.items() if k != "payload"})
    except pydantic.ValidationError as exc:
        raise InvalidRequest.of_fields(field_errors(exc.errors())) from None
    return payload, options


def _refusal(name: str) -> str:
    suggestion = closest_field(name)
    if suggestion is None:
        return "not a submit field"
    return f"not a submit field; did you mean {suggestion!r}?"


def closest_field(name: str) -> str | None:
    """The submit field *name* was probably meant to be: ``delay`` -> ``delaySeconds``.

    Case, ``_`` and ``-`` are ignored; then a name that starts or ends a field (three
    characters at least), then the closest spelling.
    """
    folded = {field.lower(): field for field in SUBMIT_FIELDS}
    key = name.replace("_", "").replace("-", "").lower()
    if key in folded:
        return folded[key]
    if len(key) >= 3:
        for lower, field in sorted(folded.items()):
            if lower.startswith(key) or lower.endswith(key):
                return field
    close = difflib.get_close_matches(key, folded, n=1, cutoff=0.6)
    return folded[close[0]] if close else None
