"""The run ends by saying which groups of tests it skipped, and why."""

from __future__ import annotations

import pytest

PLUGIN = ("-p", "tests.support.skip_summary", "-o", "asyncio_default_fixture_loop_scope=function")


def test_skips_are_counted_per_folder_and_reason_after_everything_else(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        **{
            "browser/test_page.py": """
                import pytest

                @pytest.fixture
                def chromium():
                    pytest.skip("Chromium is not installed at /usr/bin/chromium")

                @pytest.mark.parametrize("n", range(3))
                def test_page(chromium, n):
                    pass
            """,
            "stores/test_pg.py": """
                import pytest

                def test_pg():
                    pytest.skip("PostgreSQL is not reachable")

                def test_runs():
                    assert True
            """,
        }
    )
    result = pytester.runpytest(*PLUGIN, "-ra")

    result.assert_outcomes(passed=1, skipped=4)
    lines = result.outlines
    heading = next(i for i, line in enumerate(lines) if "4 tests skipped, by folder" in line)
    assert lines[heading + 1 : heading + 3] == [
        "    3  browser: Chromium is not installed at /usr/bin/chromium",
        "    1  stores: PostgreSQL is not reachable",
    ]
    short_summary = next(i for i, line in enumerate(lines) if "short test summary" in line)
    assert short_summary < heading
    assert "passed" in lines[-1]


def test_a_run_without_skips_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    assert True\n")
    result = pytester.runpytest(*PLUGIN)

    result.assert_outcomes(passed=1)
    assert not any("skipped, by folder" in line for line in result.outlines)
