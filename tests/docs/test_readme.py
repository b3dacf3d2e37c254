"""The README stands alone and stays true: its links, submit fields and settings."""

from __future__ import annotations

import dataclasses
import re

import pytest

from jobqueue.api.body import SUBMIT_FIELDS
from jobqueue.api.settings import ENV_PREFIX, ApiSettings
from tests.support.processes import ROOT

README = (ROOT / "README.md").read_text()
SOURCES = ROOT / "src" / "jobqueue"


def _table_after(heading: str) -> dict[str, list[str]]:
    """The rows of the first table after *heading*, by their first cell (backticks off)."""
    section = README[README.index(heading) :]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        if line.startswith("| `"):
            cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _variables_read_by_the_code() -> set[str]:
    named = {
        name
        for path in SOURCES.rglob("*.py")
        for name in re.findall(rf"\b{ENV_PREFIX}[A-Z][A-Z_]+\b", path.read_text())
    }
    settings = {ENV_PREFIX + spec.name.upper() for spec in dataclasses.fields(ApiSettings)}
    return named | settings


def test_every_relative_link_resolves_inside_the_repository() -> None:
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    relative = [target for target in targets if "://" not in target]
    assert relative, "the README links its own documents"
    for target in relative:
        path = (ROOT / target).resolve()
        assert path.is_relative_to(ROOT), f"{target} is outside the repository"
        assert path.exists(), f"{target} does not exist"


def test_the_submit_table_names_every_submit_field_and_only_those() -> None:
    assert set(_table_after("A submit body takes")) == SUBMIT_FIELDS


def test_the_settings_table_names_every_variable_the_code_reads() -> None:
    assert set(_table_after("## Settings")) == _variables_read_by_the_code()


@pytest.mark.parametrize("spec", dataclasses.fields(ApiSettings), ids=lambda spec: spec.name)
def test_the_settings_table_gives_each_api_setting_its_real_default(
    spec: dataclasses.Field[object],
) -> None:
    default = spec.default
    shown = _table_after("## Settings")[ENV_PREFIX + spec.name.upper()][0]
    if default in ((), None):
        assert shown == "none"
    elif isinstance(default, float):
        assert shown == f"{default:g}"
    else:
        assert shown == str(default)
