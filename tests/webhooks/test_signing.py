"""Signatures interoperate with the Standard Webhooks reference library both ways."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks

from jobqueue.errors import ConfigError
from jobqueue.webhooks import WebhookVerificationError, verify
from jobqueue.webhooks.signing import secret_key, signed_headers

SECRET = "whsec_" + base64.b64encode(b"a key of thirty-two bytes, truly").decode()
BODY = b'{"type":"job.completed","timestamp":"2026-12-08T00:00:00Z","data":{"jobId":"j"}}'


def test_the_reference_library_verifies_what_we_sign() -> None:
    headers = signed_headers(secret_key(SECRET), "msg_1", BODY, int(time.time()))
    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers)["data"] == {"jobId": "j"}


def test_we_verify_what_the_reference_library_signs() -> None:
    now = datetime.now(UTC)
    sig = standardwebhooks.Webhook(SECRET).sign("msg_2", now, BODY)
    headers = {
        "Webhook-Id": "msg_2",
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": f"v1,bm90IGl0 {sig}",
    }
    assert verify(BODY, headers, SECRET)["type"] == "job.completed"


def test_a_changed_body_or_id_fails() -> None:
    headers = signed_headers(secret_key(SECRET), "msg_3", BODY, int(time.time()))
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(BODY.replace(b"completed", b"failed"), headers, SECRET)
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(BODY, {**headers, "webhook-id": "msg_4"}, SECRET)
    other = "whsec_" + base64.b64encode(b"another key").decode()
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(BODY, headers, other)


def test_a_stale_or_future_timestamp_fails() -> None:
    sent = 1_800_000_000
    headers = signed_headers(secret_key(SECRET), "msg_5", BODY, sent)
    assert verify(BODY, headers, SECRET, now=sent + 299)
    with pytest.raises(WebhookVerificationError, match="too old or too new"):
        verify(BODY, headers, SECRET, now=sent + 301)
    with pytest.raises(WebhookVerificationError, match="too old or too new"):
        verify(BODY, headers, SECRET, now=sent - 301)


def test_missing_headers_fail() -> None:
    with pytest.raises(WebhookVerificationError, match="Missing"):
        verify(BODY, {"webhook-id": "msg_6"}, SECRET)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!"])
def test_a_malformed_secret_is_a_config_error(secret: str) -> None:
    with pytest.raises(ConfigError, match="JOBQUEUE_WEBHOOK_SECRET"):
        secret_key(secret)


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_SECRET", SECRET)
    assert secret_key() == b"a key of thirty-two bytes, truly"


def test_an_unpadded_secret_is_the_same_key() -> None:
    assert secret_key(SECRET.rstrip("=")) == secret_key(SECRET)
