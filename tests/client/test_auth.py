"""API keys: the client sends its key as a bearer token; the CLI takes it from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from jobqueue import Client, ClientError, JobStatus
from jobqueue.cli import cli
from tests.client.live import running_server


@pytest.fixture(scope="module")
def secured_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = {"JOBQUEUE_API_KEYS": "user-key", "JOBQUEUE_ADMIN_API_KEYS": "admin-key"}
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
