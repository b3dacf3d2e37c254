"""Read tokens: what each credential may do on every endpoint (API.md, "Read tokens").

The matrix runs on every store, since what a token opens is decided by the owner and the
tags each store keeps with a job.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from jobqueue import JobQueue
from jobqueue.api import ApiSettings, create_app
from jobqueue.api.read_tokens import ReadTokens
from jobqueue.clock import FakeClock
from jobqueue.errors import ConfigError
from jobqueue.stores import Store
from jobqueue.wire import timestamp
from tests.api.conftest import Jobs, assert_problem, make_queue, serving
from tests.api.test_events import EventReader

ALICE, BOB, ADMIN = "alice-key", "bob-key", "admin-key"
SECRET = "a-secret-for-the-tests-only"


@dataclass
class Scene:
    """Alice's jobs (one tagged `gallery`, one not), Bob's tagged job, and their tokens."""

    app: FastAPI
    queue: JobQueue
    tagged: str
    untagged: str
    bobs: str
    job_token: str
    """The `readToken` of Alice's tagged job, from its submit answer."""
    tag_token: str
    """A token for Alice's jobs tagged `gallery`."""


def client(app: FastAPI, credential: str | None = None) -> httpx.AsyncClient:
    headers = {} if credential is None else {"Authorization": f"Bearer {credential}"}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )


def secured_app(queue: JobQueue, secret: str = SECRET) -> FastAPI:
    settings = ApiSettings(
        api_keys=(ALICE, BOB), admin_api_keys=(ADMIN,), secret=secret, keepalive_seconds=0.2
    )
    return create_app(queue, settings)


@pytest.fixture
async def scene(clock: FakeClock, store: Store) -> AsyncIterator[Scene]:
    queue = make_queue(clock, store)
    app = secured_app(queue)
    async with app.router.lifespan_context(app), client(app, ALICE) as alice:
        submitted = await alice.post("/api/jobs", json={"payload": 1, "tags": ["gallery"]})
        untagged = (await alice.post("/api/jobs", json={"payload": 2})).json()["jobId"]
        async with client(app, BOB) as bob:
            bobs = await bob.post("/api/jobs", json={"payload": 3, "tags": ["gallery"]})
        minted = await alice.post("/api/jobs/tokens", json={"tags": ["gallery"]})
        assert minted.status_code == 200, minted.text
        yield Scene(
            app,
            queue,
            submitted.json()["jobId"],
            untagged,
            bobs.json()["jobId"],
            submitted.json()["readToken"],
            minted.json()["token"],
        )


async def status_of(scene: Scene, job_id: str, credential: str) -> int:
    async with client(scene.app, credential) as caller:
        return (await caller.get(f"/api/jobs/{job_id}")).status_code


async def test_a_job_token_reads_its_job_and_nothing_else(scene: Scene):
    async with client(scene.app, scene.job_token) as holder, client(scene.app) as anonymous:
        job = await holder.get(f"/api/jobs/{scene.tagged}")
        by_query = await anonymous.get(f"/api/jobs/{scene.tagged}?token={scene.job_token}")
        long_poll = await holder.get(f"/api/jobs/{scene.tagged}?wait=0.01")

        assert job.status_code == by_query.status_code == long_poll.status_code == 200
        assert job.json()["jobId"] == scene.tagged
        for other in (scene.untagged, scene.bobs, "no-such-job"):
            assert_problem(await holder.get(f"/api/jobs/{other}"), 404, "Job not found")
            assert_problem(await holder.get(f"/api/jobs/{other}/events"), 404)
        for action in ("cancel", "retry", "token"):
            assert_problem(await holder.post(f"/api/jobs/{scene.tagged}/{action}"), 403)
        assert_problem(await holder.post("/api/jobs", json={"payload": 1}), 403)
        assert_problem(await holder.post("/api/jobs/tokens", json={"tags": ["gallery"]}), 403)
        for admin_only in ("/api/jobs", "/api/jobs/stats", "/metrics"):
            assert_problem(await holder.get(admin_only), 403)

    unchanged = await scene.queue.get(scene.tagged)
    assert unchanged is not None
    assert unchanged.status.value == "queued"  # the refused cancel changed nothing


async def test_a_tag_token_reads_its_owners_jobs_with_the_tag(scene: Scene):
    assert await status_of(scene, scene.tagged, scene.tag_token) == 200
    assert await status_of(scene, scene.untagged, scene.tag_token) == 404
    assert await status_of(scene, scene.bobs, scene.tag_token) == 404  # Bob's, same tag
    async with client(scene.app, scene.tag_token) as holder:
        assert_problem(await holder.post(f"/api/jobs/{scene.tagged}/cancel"), 403)
        assert_problem(await holder.get("/api/jobs?tag=gallery"), 403)


async def test_keys_see_as_before_and_mint_tokens_for_what_they_see(scene: Scene):
    assert await status_of(scene, scene.tagged, ALICE) == 200
    assert await status_of(scene, scene.tagged, BOB) == 404
    assert await status_of(scene, scene.tagged, ADMIN) == 200
    async with client(scene.app, BOB) as bob, client(scene.app, ADMIN) as admin:
        assert_problem(await bob.post(f"/api/jobs/{scene.tagged}/token"), 404)
        minted = await admin.post(f"/api/jobs/{scene.tagged}/token")

    assert minted.status_code == 200
    assert minted.headers["cache-control"] == "no-store"
    # An admin's token for Alice's job reads that job: the token carries the job's owner.
    assert await status_of(scene, scene.tagged, minted.json()["token"]) == 200
    assert await status_of(scene, scene.untagged, minted.json()["token"]) == 404


async def test_altered_foreign_and_malformed_tokens_are_401(scene: Scene):
    header, claims, signature = scene.job_token.split(".")
    unsigned = jwt.decode(scene.job_token, options={"verify_signature": False})
    forged = json.dumps({**unsigned, "job": scene.untagged}).encode()
    forged_claims = jwt.utils.base64url_encode(forged).decode()
    resigned = ("B" if signature[0] == "A" else "A") + signature[1:]
    other_deployment = ReadTokens("another-deployment-secret", scene.queue.clock)
    job = await scene.queue.get(scene.tagged)
    assert job is not None
    for bad in (
        f"{header}.{forged_claims}.{signature}",  # claims changed, signature kept
        f"{header}.{claims}.{resigned}",  # signature changed
        other_deployment.for_job(job).token,  # signed with another secret
        "not.a.token",
    ):
        async with client(scene.app, bad) as holder, client(scene.app) as anonymous:
            assert_problem(await holder.get(f"/api/jobs/{scene.tagged}"), 401, "Invalid token")
            by_query = await anonymous.get(f"/api/jobs/{scene.untagged}?token={bad}")
            assert_problem(by_query, 401, "Invalid token")


async def test_an_api_key_in_the_query_is_not_accepted(scene: Scene):
    async with client(scene.app) as anonymous:
        response = await anonymous.get(f"/api/jobs/{scene.tagged}?token={ALICE}")
    assert_problem(response, 401, "Invalid token")


async def test_tokens_expire(scene: Scene, clock: FakeClock):
    async with client(scene.app, ALICE) as alice:
        minted = await alice.post("/api/jobs/tokens", json={"tags": ["gallery"], "ttlSeconds": 60})
    expires = clock.now() + timedelta(seconds=60)
    assert minted.json()["expiresAt"] == timestamp(expires.replace(microsecond=0))
    short = minted.json()["token"]
    assert await status_of(scene, scene.tagged, short) == 200

    clock.advance(61)

    async with client(scene.app, short) as holder:
        assert_problem(await holder.get(f"/api/jobs/{scene.tagged}"), 401, "The token has expired")
    assert await status_of(scene, scene.tagged, scene.tag_token) == 200  # 1 h, the default


async def test_a_job_token_lasts_until_the_job_would_expire(scene: Scene, clock: FakeClock):
    jobs = Jobs(scene.queue)
    finished = await jobs.complete(scene.untagged, "done")
    assert finished.expires_at is not None
    async with client(scene.app, ALICE) as alice:
        minted = (await alice.post(f"/api/jobs/{scene.untagged}/token")).json()

    assert minted["expiresAt"] == timestamp(finished.expires_at.replace(microsecond=0))
    assert await status_of(scene, scene.untagged, minted["token"]) == 200


async def test_tag_token_requests_are_validated(scene: Scene):
    async with client(scene.app, ALICE) as alice:
        bodies: list[dict[str, object]] = [
            {},
            {"tags": []},
            {"tags": ["no spaces"]},
            {"tags": ["gallery"], "ttlSeconds": 0},
            {"tags": ["gallery"], "ttlSeconds": 8 * 86400},
            {"tags": ["gallery"], "extra": 1},
        ]
        for body in bodies:
            assert_problem(await alice.post("/api/jobs/tokens", json=body), 400)


async def test_sse_works_with_a_token_in_the_query(scene: Scene):
    jobs = Jobs(scene.queue)
    async with serving(scene.app) as url, httpx.AsyncClient(base_url=url) as browser:
        path = f"/api/jobs/{scene.tagged}/events"
        params = {"token": scene.job_token}
        async with browser.stream("GET", path, params=params) as response:
            assert response.status_code == 200
            events = EventReader(response)
            assert (await events.next_job())["status"] == "queued"
            await jobs.complete(scene.tagged, "painted")
            while (job := await events.next_job())["status"] != "completed":
                assert job["status"] == "processing"
            assert job["result"] == "painted"


async def test_without_keys_tokens_are_null(client: httpx.AsyncClient):
    submitted = await client.post("/api/jobs", json={"payload": 1})
    job_token = await client.post(f"/api/jobs/{submitted.json()['jobId']}/token")
    tag_token = await client.post("/api/jobs/tokens", json={"tags": ["a"]})

    assert submitted.json()["readToken"] is None
    assert job_token.json() == tag_token.json() == {"token": None, "expiresAt": None}


def test_keys_without_a_secret_stop_the_start():
    with pytest.raises(ConfigError, match="JOBQUEUE_SECRET"):
        ApiSettings.from_env({"JOBQUEUE_API_KEYS": "k1"})
    with pytest.raises(ConfigError, match="JOBQUEUE_SECRET"):
        ApiSettings(admin_api_keys=("k",), secret="too-short")
    assert ApiSettings.from_env({"JOBQUEUE_API_KEYS": "k1", "JOBQUEUE_SECRET": SECRET}).secret


async def test_every_server_sharing_the_secret_accepts_the_tokens(scene: Scene, clock: FakeClock):
    other_server = secured_app(make_queue(clock, scene.queue.store))
    async with client(other_server, scene.job_token) as holder:
        assert (await holder.get(f"/api/jobs/{scene.tagged}")).status_code == 200
    stranger = secured_app(make_queue(clock, scene.queue.store), secret="x" * 32)
    async with client(stranger, scene.job_token) as holder:
        assert_problem(await holder.get(f"/api/jobs/{scene.tagged}"), 401)
