"""API keys and read tokens: the client sends either as a bearer token; the CLI takes a key
from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobqueue import Client, ClientError, JobNotFound, JobStatus
from jobqueue.cli import cli
from tests.client.live import running_server


@pytest.fixture(scope="module")
def secured_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = {
        "JOBQUEUE_API_KEYS": "user-key",
        "JOBQUEUE_ADMIN_API_KEYS": "admin-key",
        "JOBQUEUE_SECRET": "a-secret-for-the-tests-only",
    }
    with running_server(tmp_path_factory.mktemp("secured"), **keys) as url:
        yield url


def test_a_key_is_required_and_scopes_what_the_client_sees(secured_url: str) -> None:
    with Client(secured_url) as anonymous, pytest.raises(ClientError) as caught:
        anonymous.stats()
    assert caught.value.status == 401
    with Client(secured_url, api_key="user-key") as user:
        job = user.submit("echo", "mine", wait=30)
        assert job.status is JobStatus.COMPLETED
        with pytest.raises(ClientError) as forbidden:
            user.stats()
        assert forbidden.value.status == 403
    with Client(secured_url, api_key="admin-key") as admin:
        assert admin.get(job.job_id).result == "mine"
        assert admin.stats().tasks["echo"][JobStatus.COMPLETED] == 1


def test_the_cli_reads_the_key_from_jobqueue_api_key(secured_url: str) -> None:
    runner = CliRunner(env={"JOBQUEUE_SERVER": secured_url, "JOBQUEUE_API_KEY": "admin-key"})
    assert runner.invoke(cli, ["stats", "--json"]).exit_code == 0
    refused = runner.invoke(cli, ["stats", "--api-key", "user-key"])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: ")


def test_a_read_token_from_the_client_reads_only_its_job(secured_url: str) -> None:
    with Client(secured_url, api_key="user-key") as user:
        job = user.submit("echo", "shared", tags=["gallery"], wait=30)
        other = user.submit("echo", "private", wait=30)
        job_token = user.token(job.job_id)
        tag_token = user.tag_token(["gallery"], ttl_seconds=60)
    assert job_token is not None
    assert tag_token is not None
    assert 55 <= (tag_token.expires_at - datetime.now(UTC)).total_seconds() <= 61

    for token in (job_token.token, tag_token.token):
        with Client(secured_url, api_key=token) as browser:
            assert browser.get(job.job_id).result == "shared"
            assert [seen.status for seen in browser.stream(job.job_id)][-1] is JobStatus.COMPLETED
            with pytest.raises(JobNotFound):
                browser.get(other.job_id)
            with pytest.raises(ClientError) as refused:
                browser.retry(job.job_id)
            assert refused.value.status == 403


def test_without_keys_there_are_no_tokens(tmp_path: Path) -> None:
    with running_server(tmp_path) as url, Client(url) as client:
        job = client.submit("echo", 1)
        assert client.token(job.job_id) is None
        assert client.tag_token(["any"]) is None
