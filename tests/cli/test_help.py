"""Every command explains every option, in plain text that fits a terminal."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from jobqueue.cli import cli


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


COMMANDS = list(_commands(cli))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "jobqueue")
def test_each_option_has_help_and_the_help_is_plain_text_within_80_columns(
    path: tuple[str, ...],
) -> None:
    command = _command(path)
    options = [param for param in command.params if isinstance(param, click.Option)]
    assert all(option.help for option in options), [o.name for o in options if not o.help]

    shown = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)

    assert shown.exit_code == 0
    assert "`" not in shown.output
    assert all(len(line) <= 80 for line in shown.output.splitlines())


def test_a_log_level_that_is_no_level_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        cli, ["worker", "tests.support.recording_app:queue", "--log-level", "loud"]
    )

    assert result.exit_code == 2
    assert "'loud' is not one of 'critical', 'error', 'warning', 'info', 'debug'" in result.output
    assert "Traceback" not in result.output
