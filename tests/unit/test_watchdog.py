"""A test that hangs where pytest-timeout cannot fail it ends the run, with tracebacks."""

from __future__ import annotations

import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.slow


def test_a_hang_under_uvloop_ends_the_run_with_every_traceback(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(
        test_hang="""
            import asyncio

            import pytest
            import uvloop

            @pytest.mark.timeout(1)
            def test_hangs_under_uvloop():
                async def forever():
                    await asyncio.sleep(3600)

                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    runner.run(forever())

            def test_never_reached():
                pass
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "tests.support.watchdog", "-o", "asyncio_default_fixture_loop_scope=function"
    )

    assert result.ret == 1
    assert any(line.startswith("Timeout (0:00:") for line in result.errlines)
    assert any("in test_hangs_under_uvloop" in line for line in result.errlines)
    assert not any("test_never_reached" in line for line in result.outlines)
