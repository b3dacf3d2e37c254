"""``jobqueue migrate`` and ``jobqueue purge`` on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from jobqueue.cli import cli


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    result = CliRunner().invoke(cli, ["migrate", "--store", url])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert (tmp_path / "jobs.db").exists()


def test_purge_reports_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    result = CliRunner().invoke(cli, ["purge", "--store", url])
    assert result.exit_code == 0, result.output
    assert "Recovered 0 jobs, purged 0 expired jobs." in result.output


def test_unknown_scheme_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["migrate", "--store", "mongodb://x"])
    assert result.exit_code == 2
    assert "Error: Unknown store URL scheme 'mongodb'" in result.output
