"""Minting read tokens: ``POST {prefix}/tokens`` (by tags) and ``POST {prefix}/{jobId}/token``.

Only an API key mints: a token never begets another. Without API keys both answer
``{"token": null, "expiresAt": null}``, as the submit answer's ``readToken`` is null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic
from fastapi import Depends, Request

from jobqueue.api import openapi
from jobqueue.api.auth import Principal  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.body import read_json
from jobqueue.api.responses import json_response
from jobqueue.api.router import JobId  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.schemas import TagTokenRequest
from jobqueue.errors import InvalidRequest, field_errors
from jobqueue.wire import TokenOut, token_to_wire

if TYPE_CHECKING:
    from starlette.responses import Response

    from jobqueue.api.router import JobsRouter

_NO_STORE = {"Cache-Control": "no-store"}


def add_token_routes(router: JobsRouter) -> None:
    """Add ``POST {prefix}/tokens`` and ``POST {prefix}/{jobId}/token`` to *router*."""
    queue = router.queue
    tokens = router.tokens
    settings = router.settings
    answers: dict[int | str, Any] = {
        200: openapi.answer(TokenOut, "The token (null without API keys).")
    }

    @router.post(
        "/tokens",
        name="jobqueue_tag_token",
        summary="Mint a read token for the caller's jobs with some tags",
        description="The token reads (status, long poll, events, the `tag` stream) the "
        "caller's jobs that carry any of `tags`, until `expiresAt`.",
        response_model=None,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": openapi.inline(TagTokenRequest.model_json_schema())
                    }
                },
            }
        },
        responses={**answers, **openapi.problems(400, *router.guarded, 413, 415, 503)},
    )
    async def tag_token(request: Request, principal: Principal = Depends(router.auth)) -> Response:
        principal.require_key("mint tokens")
        body = await read_json(
            request, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
        )
        try:
            asked = TagTokenRequest.model_validate(body)
        except pydantic.ValidationError as exc:
            raise InvalidRequest.of_fields(field_errors(exc.errors())) from None
        token = None
        if tokens is not None:
            token = tokens.for_tags(principal.owner, set(asked.tags), asked.ttlSeconds)
        return json_response(token_to_wire(token), headers=_NO_STORE)

    @router.post(
        "/{jobId}/token",
        name="jobqueue_job_token",
        summary="Mint a read token for one job",
        description="The token reads the job until it would expire (at most 7 days).",
        response_model=None,
        responses={**answers, **openapi.problems(*router.guarded, 404, 503)},
    )
    async def job_token(job_id: JobId, principal: Principal = Depends(router.auth)) -> Response:
        principal.require_key("mint tokens")
        job = principal.check_visible(await queue.get(job_id), job_id)
        token = tokens.for_job(job) if tokens is not None else None
        return json_response(token_to_wire(token), headers=_NO_STORE)
