"""The service around the job API: /healthz, /metrics, store outages, OpenAPI, pages, CORS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from jobqueue.api import ApiSettings, create_app
from tests.api.conftest import Jobs, assert_problem, client_of, make_queue, submit

UNREACHABLE_STORE = "redis://127.0.0.1:1/0"  # nothing listens on port 1


async def test_healthz_is_ok_when_the_store_answers(client: httpx.AsyncClient):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_a_store_outage_is_503_with_retry_after_and_creates_nothing():
    app = create_app(make_queue(store=UNREACHABLE_STORE), ApiSettings())
    async with client_of(app) as client:
        health = await client.get("/healthz")
        submitted = await client.post("/api/jobs", json={"payload": 1})
        status = await client.get("/api/jobs/some-id")
        metrics = await client.get("/metrics")

    for response in (health, submitted, status):
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) >= 1
    assert metrics.status_code == 200
    assert "jobqueue_store_up 0.0" in metrics.text


async def wait_for_metric(client: httpx.AsyncClient, line: str) -> str:
    """The metrics text once it contains *line* (the change counter works asynchronously)."""
    async with asyncio.timeout(5):
        while line not in (text := (await client.get("/metrics")).text):
            await asyncio.sleep(0.02)
    return text


async def test_metrics_count_jobs_and_requests(client: httpx.AsyncClient, jobs: Jobs):
    done = await submit(client)
    failed = await submit(client)
    await submit(client)
    await jobs.complete(done)
    await jobs.fail(failed)
    await client.get(f"/api/jobs/{done}")

    text = await wait_for_metric(
        client, 'jobqueue_jobs_finished_total{status="failed",task="echo"} 1.0'
    )
    assert response_type_is_prometheus(await client.get("/metrics"))
    assert 'jobqueue_jobs_submitted_total{task="echo"} 3.0' in text
    assert 'jobqueue_jobs_started_total{task="echo"} 2.0' in text
    assert 'jobqueue_jobs_finished_total{status="completed",task="echo"} 1.0' in text
    assert 'jobqueue_job_duration_seconds_count{status="completed",task="echo"} 1.0' in text
    assert 'jobqueue_queue_depth{task="echo"} 1.0' in text
    assert 'jobqueue_queue_depth{task="resize"} 0.0' in text
    assert 'jobqueue_jobs{status="completed",task="echo"} 1.0' in text
    assert 'jobqueue_http_requests_total{method="POST",route="/api/jobs",status="202"} 3.0' in text
    assert 'route="/api/jobs/{jobId}",status="200"' in text
    assert "jobqueue_store_up 1.0" in text


def response_type_is_prometheus(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/plain")


async def test_openapi_documents_each_tasks_payload_schema(client: httpx.AsyncClient):
    document = (await client.get("/openapi.json")).json()

    body = document["paths"]["/api/jobs"]["post"]["requestBody"]
    variants = {
        variant["title"]: variant
        for variant in body["content"]["application/json"]["schema"]["anyOf"]
    }
    resize = variants["Submit resize"]["properties"]
    assert resize["task"] == {"type": "string", "const": "resize"}
    assert resize["payload"]["properties"]["width"] == {
        "maximum": 4096,
        "minimum": 1,
        "title": "Width",
        "type": "integer",
    }
    assert resize["payload"]["required"] == ["url", "width"]
    assert variants["Submit resize"]["required"] == ["payload", "task"]
    assert variants["Submit echo"]["required"] == ["payload"]  # the default task
    assert "ttlSeconds" in resize
    assert document["paths"]["/api/jobs/submit"]["post"]["requestBody"] == body
    assert "/api/jobs/{jobId}/retry" in document["paths"]


async def test_openapi_documents_errors_as_problem_json(client: httpx.AsyncClient):
    document = (await client.get("/openapi.json")).json()

    submit_responses = document["paths"]["/api/jobs"]["post"]["responses"]
    assert set(submit_responses) >= {"200", "202", "400", "413", "415", "422", "503"}
    for status in ("400", "413", "415", "422", "503"):
        assert list(submit_responses[status]["content"]) == ["application/problem+json"]
    assert submit_responses["202"]["headers"]["Location"]["required"] is True
    get_responses = document["paths"]["/api/jobs/{jobId}"]["get"]["responses"]
    assert set(get_responses) >= {"200", "304", "404"}
    assert "422" not in get_responses


async def test_docs_page_is_served(client: httpx.AsyncClient):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


@pytest.fixture
def static_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in [
        ("jobqueue.js", "export const version = 1;"),
        ("dashboard.html", "<h1>dashboard</h1>"),
        ("index.html", "<h1>demo</h1>"),
        ("style.css", "body {}"),
    ]:
        (tmp_path / name).write_text(text)
    monkeypatch.setattr("jobqueue.api.pages.STATIC_DIR", tmp_path)
    return tmp_path


@pytest.mark.usefixtures("static_dir")
async def test_the_web_pages_are_served():
    async with client_of(create_app(make_queue(), ApiSettings())) as client:
        script = await client.get("/jobqueue.js")
        dashboard = await client.get("/dashboard")
        static = await client.get("/static/style.css")
        home = await client.get("/")
        missing = await client.get("/static/missing.js")

    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert dashboard.text == "<h1>dashboard</h1>"
    assert static.text == "body {}"
    assert home.status_code == 307
    assert home.headers["location"] == "/dashboard"
    assert_problem(missing, 404)


@pytest.mark.usefixtures("static_dir")
async def test_the_demo_serves_its_page_at_the_root():
    async with client_of(create_app(make_queue(), ApiSettings(), demo=True)) as client:
        home = await client.get("/")
    assert home.text == "<h1>demo</h1>"


async def test_a_page_that_is_not_built_is_404(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("jobqueue.api.pages.STATIC_DIR", tmp_path / "absent")
    async with client_of(create_app(make_queue(), ApiSettings(), demo=True)) as client:
        for path in ("/", "/dashboard", "/jobqueue.js", "/static/x.js"):
            assert_problem(await client.get(path), 404)


async def test_cors_lets_the_configured_origin_call_the_api():
    settings = ApiSettings(cors_origins=("https://app.example",))
    async with client_of(create_app(make_queue(), settings)) as client:
        preflight = await client.options(
            "/api/jobs",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, idempotency-key",
            },
        )
        submitted = await client.post(
            "/api/jobs", json={"payload": 1}, headers={"Origin": "https://app.example"}
        )
        other = await client.post(
            "/api/jobs", json={"payload": 1}, headers={"Origin": "https://evil.example"}
        )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert submitted.headers["access-control-allow-origin"] == "https://app.example"
    exposed = submitted.headers["access-control-expose-headers"].lower()
    assert {"location", "retry-after", "etag"} <= {h.strip() for h in exposed.split(",")}
    assert "access-control-allow-origin" not in other.headers


async def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JOBQUEUE_PREFIX", "/jobs")
    monkeypatch.setenv("JOBQUEUE_MAX_BODY_BYTES", "100")
    monkeypatch.setenv("JOBQUEUE_CORS_ORIGINS", "https://a.example, https://b.example")

    settings = ApiSettings.from_env()

    assert settings.prefix == "/jobs"
    assert settings.max_body_bytes == 100
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    async with client_of(create_app(make_queue(), settings)) as client:
        big = await client.post("/jobs", json={"payload": "x" * 200})
        small = await client.post("/jobs", json={"payload": 1})
    assert_problem(big, 413)
    assert small.headers["location"].startswith("/jobs/")


def test_malformed_settings_are_config_errors(monkeypatch: pytest.MonkeyPatch):
    from jobqueue.errors import ConfigError

    monkeypatch.setenv("JOBQUEUE_MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigError, match="JOBQUEUE_MAX_BODY_BYTES"):
        ApiSettings.from_env()
    with pytest.raises(ConfigError):
        ApiSettings(prefix="api/")
    with pytest.raises(ConfigError):
        ApiSettings(max_wait_seconds=61)
