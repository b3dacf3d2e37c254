"""The architecture's rules, checked on the source: who may import whom, who writes to a
store, and how long a module may grow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import jobqueue

PACKAGE = Path(jobqueue.__file__).parent
MAX_MODULE_LINES = 400

#: The `Store` methods that change jobs or workers; only the lifecycle calls them.
STORE_WRITES = frozenset(
    {
        "create",
        "claim",
        "heartbeat",
        "record_progress",
        "complete",
        "complete_many",
        "fail",
        "finish_cancelled",
        "release",
        "request_cancel",
        "retry",
        "reap_expired_leases",
        "purge_expired",
        "register_worker",
        "unregister_worker",
        "count_hit",
    }
)


def _modules(folder: str = "") -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [("worker", "jobqueue.stores"), ("api", "jobqueue.worker")],
)
def test_layers_do_not_reach_past_their_neighbours(folder: str, forbidden: str) -> None:
    offenders = {
        _name(path): sorted(n for n in _imports(path) if n.split(".")[:2] == forbidden.split("."))
        for path in _modules(folder)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_only_the_lifecycle_writes_to_a_store() -> None:
    writers = set()
    for path in _modules():
        if path.relative_to(PACKAGE).parts[0] in {"stores", "lifecycle"}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in STORE_WRITES
                and isinstance(owner := node.value, ast.Attribute | ast.Name)
                and (owner.attr if isinstance(owner, ast.Attribute) else owner.id).endswith("store")
            ):
                writers.add(f"{_name(path)}:{node.lineno} .{node.attr}")
    assert sorted(writers) == []


def test_the_http_layer_reaches_the_store_only_through_the_queue() -> None:
    reaches = [
        f"{_name(path)}:{node.lineno}"
        for path in _modules("api")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in {"store", "lifecycle"}
    ]
    assert reaches == []


def test_no_module_is_longer_than_the_limit() -> None:
    lengths = {_name(path): len(path.read_text().splitlines()) for path in _modules()}
    assert {path: n for path, n in lengths.items() if n > MAX_MODULE_LINES} == {}
