"""The address guard refuses every non-public destination, however it is spelt; no test
here sends anything anywhere (names resolve through a stub)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from jobqueue.errors import InvalidRequest
from jobqueue.webhooks import UnsafeWebhookURL, allowed_hosts, check_url
from jobqueue.webhooks.guard import UnresolvableHost, system_resolver

PUBLIC = "93.184.215.14"


def resolver(table: Mapping[str, Sequence[str]]):
    async def resolve(host: str, port: int) -> Sequence[str]:
        return table.get(host, ())

    return resolve


NAMES = resolver(
    {
        "receiver.example": [PUBLIC],
        "sneaky.example": ["127.0.0.1"],
        "mixed.example": [PUBLIC, "10.1.2.3"],
        "v6.example": ["2606:4700::6810:84e5"],
        "v6-loop.example": ["::1"],
        "localhost": ["127.0.0.1"],
    }
)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::10.0.0.1]/",
        "http://[2002:a00:1::]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://192.168.1.1/",
        "http://sneaky.example/",
        "http://mixed.example/",
        "http://v6-loop.example/",
        "http://localhost./",
    ],
)
async def test_a_non_public_destination_is_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhookURL, match=r"webhook\.url"):
        await check_url(url, frozenset(), NAMES)


@pytest.mark.parametrize(
    "url", ["ftp://receiver.example/", "file:///etc/passwd", "gopher://x/", "http:///nohost"]
)
async def test_only_http_urls_with_a_host_are_accepted(url: str) -> None:
    with pytest.raises(UnsafeWebhookURL):
        await check_url(url, frozenset(), NAMES)


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(UnresolvableHost):
        await check_url("https://nowhere.example/", frozenset(), NAMES)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{PUBLIC}/hook",
        "https://receiver.example/hook?x=1",
        "http://v6.example:8080/",
        "https://[2606:4700::6810:84e5]/",
    ],
)
async def test_a_public_destination_passes(url: str) -> None:
    await check_url(url, frozenset(), NAMES)


async def test_an_allowed_host_passes_without_the_checks() -> None:
    allow = allowed_hosts(" 127.0.0.1, Sneaky.Example ,[::1]")
    assert allow == {"127.0.0.1", "sneaky.example", "::1"}
    for url in ("http://127.0.0.1:9000/", "http://sneaky.example/", "http://[::1]/"):
        await check_url(url, allow, NAMES)
    with pytest.raises(UnsafeWebhookURL):
        await check_url("http://10.0.0.1/", allow, NAMES)


def test_allowed_hosts_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_ALLOW_HOSTS", "a.example,b.example")
    assert allowed_hosts() == {"a.example", "b.example"}
    monkeypatch.delenv("JOBQUEUE_WEBHOOK_ALLOW_HOSTS")
    assert allowed_hosts() == frozenset()


def test_a_refusal_is_an_invalid_request() -> None:
    assert issubclass(UnsafeWebhookURL, InvalidRequest)
    assert UnsafeWebhookURL.http_status == 400


async def test_the_system_resolver_refuses_what_it_cannot_resolve() -> None:
    # An empty label fails before any lookup is sent.
    with pytest.raises(UnresolvableHost):
        await system_resolver("a..example", 443)
