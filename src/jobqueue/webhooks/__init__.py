"""Signed, durable webhooks: the address guard, Standard Webhooks signing and the retry
schedule of deliveries.

Receivers need only `verify`.
"""

from __future__ import annotations

from jobqueue.webhooks.guard import UnsafeWebhookURL, allowed_hosts, check_url
from jobqueue.webhooks.schedule import DeliverySchedule
from jobqueue.webhooks.signing import WebhookVerificationError, verify

__all__ = [
    "DeliverySchedule",
    "UnsafeWebhookURL",
    "WebhookVerificationError",
    "allowed_hosts",
    "check_url",
    "verify",
]
