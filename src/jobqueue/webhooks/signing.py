"""Standard Webhooks signatures: what the sender adds, and `verify` for receivers.

The signature is ``v1,`` and the base64 HMAC-SHA256, keyed with the secret's bytes, of
``"<webhook-id>.<webhook-timestamp>.<body>"``; the secret is written ``whsec_`` and the
base64 of those bytes. Any Standard Webhooks library verifies what `signed_headers`
produces, and `verify` accepts what they sign.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from typing import TYPE_CHECKING, Any

import orjson

from jobqueue.errors import ConfigError, JobQueueError

if TYPE_CHECKING:
    from collections.abc import Mapping

SECRET_VARIABLE = "JOBQUEUE_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix)
#: How far a message's timestamp may be from the receiver's clock (Standard Webhooks').
TOLERANCE_SECONDS = 300


class WebhookVerificationError(JobQueueError):
    """The webhook's signature does not match, or its timestamp is missing or too far off."""

    http_status = 400


def secret_key(secret: str | bytes | None = None) -> bytes:
    """The key bytes of *secret* (default: ``JOBQUEUE_WEBHOOK_SECRET``); `ConfigError`
    when it is missing or not ``whsec_`` and base64."""
    value = os.environ.get(SECRET_VARIABLE, "") if secret is None else secret
    if isinstance(value, bytes):
        key = value
    else:
        encoded = value.removeprefix(SECRET_PREFIX)
        try:  # padding optional, as Standard Webhooks' libraries take it
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
    if not key:
        raise ConfigError(f"{SECRET_VARIABLE} must be {SECRET_PREFIX!r} and base64 key bytes")
    return key


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` of one message."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode()


def signed_headers(key: bytes, webhook_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The three Standard Webhooks headers for *body* sent at *timestamp* (Unix seconds)."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, webhook_id, timestamp, body),
    }


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | bytes,
    *,
    now: float | None = None,
) -> Any:
    """The JSON message of a webhook whose signature and timestamp check out.

    For receivers: pass the body exactly as received, the request's headers (any
    mapping; names are matched in any case) and the ``whsec_`` secret. Raises
    `WebhookVerificationError` for a missing header, a timestamp more than five minutes
    from *now* (default: the clock) or a signature that does not match.
    """
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature")
    if not (webhook_id and stamp and signatures):
        raise WebhookVerificationError("Missing webhook-id, webhook-timestamp or webhook-signature")
    if not stamp.isdigit():
        raise WebhookVerificationError("Invalid webhook-timestamp")
    if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("The webhook-timestamp is too old or too new")
    expected = signature(secret_key(secret), webhook_id, int(stamp), body)
    if not any(hmac.compare_digest(expected, given) for given in signatures.split()):
        raise WebhookVerificationError("No matching webhook signature")
    return orjson.loads(body)
