"""gil_switch_ms (TIDINGS_GIL_SWITCH_MS): the server process's GIL switch
interval, set when the runtime starts; a value out of range or not a number
is refused when the settings are read, naming the variable."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tidings.config_sources import ConfigError
from tidings.config_sources import load as load_settings
from tidings.runtime import Runtime


@pytest.fixture
def interval_kept() -> Iterator[None]:
    """The test process's own interval, as it was, afterwards."""
    before = sys.getswitchinterval()
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.parametrize(("given", "seconds"), [("1", 0.001), ("2.5", 0.0025), (None, 0.005)])
async def test_the_runtime_sets_the_process_switch_interval(
        tmp_path: Path, interval_kept: None, given: str | None, seconds: float) -> None:
    env = {"TIDINGS_DATA_DIR": str(tmp_path / "data"), "TIDINGS_PUSH_ENABLED": "0"}
    if given is not None:
        env["TIDINGS_GIL_SWITCH_MS"] = given
    sys.setswitchinterval(0.02)  # neither the default nor a value given here
    runtime = await Runtime.start(load_settings(env=env, cwd=tmp_path).settings)
    try:
        assert sys.getswitchinterval() == pytest.approx(seconds)
    finally:
        await runtime.stop()


@pytest.mark.parametrize("bad", ["0", "0.01", "-1", "101", "fast", ""])
def test_a_bad_value_is_refused_naming_the_variable(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"TIDINGS_GIL_SWITCH_MS": bad}, cwd=tmp_path)
    assert str(refused.value).startswith(f"TIDINGS_GIL_SWITCH_MS={bad!r}: "), refused.value
