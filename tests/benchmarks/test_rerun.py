"""``benchmarks.rerun``: the runs beside the speed benchmark start with its quality gate and
never run while it times; the rest follows in order. Stub commands stand in for the
benchmarks (the real ones take an hour)."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from benchmarks import rerun
from benchmarks.rerun import Job, Plan, run_plan, speed_phase

#: A speed run: writes its phases to speed.json (as benchmarks.speed does) and when each began.
SPEED = """
import json, sys, time
from pathlib import Path
out, log = Path(sys.argv[1]), Path(sys.argv[2])
for phase, seconds in (("training", 0.6), ("quality gate", 1.2), ("timing", 2.0), ("done", 0)):
    tmp = out / ".speed.json.tmp"
    tmp.write_text(json.dumps({"phase": phase}))
    tmp.replace(out / "speed.json")
    with log.open("a") as f:
        f.write(f"{phase} {time.time()}\\n")
    time.sleep(seconds)
"""

#: A quality run: works in small steps, writing when each was done.
WORK = """
import sys, time
from pathlib import Path
log = Path(sys.argv[1])
for _ in range(int(sys.argv[2])):
    time.sleep(0.05)
    with log.open("a") as f:
        f.write(f"{time.time()}\\n")
"""


def _job(name: str, script: str, *args: object) -> Job:
    return Job(name, [[sys.executable, "-c", script, *map(str, args)]])


def test_the_runs_beside_speed_are_stopped_while_it_times(tmp_path: Path) -> None:
    phases, work, chain, after, last = (tmp_path / n for n in ("p", "w", "c", "a", "l"))
    plan = Plan(
        speed=_job("speed", SPEED, tmp_path, phases),
        beside=[
            _job("quality", WORK, work, 60),
            Job(  # a chain: both parts run, one after the other
                "chain",
                [[sys.executable, "-c", WORK, str(chain), n] for n in ("3", "4")],
            ),
        ],
        after=[_job("after", WORK, after, 2)],
        last=[_job("last", WORK, last, 2)],
    )
    codes = run_plan(plan, tmp_path, poll=0.05, settle_timeout=0)

    assert codes == {"speed": 0, "after": 0, "quality": 0, "chain": 0, "last": 0}
    began = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in phases.read_text().splitlines()
    }
    steps = [float(t) for t in work.read_text().split()]
    assert len(steps) == 60 and len(chain.read_text().split()) == 7
    # Nothing beside speed before its gate, nor while it times (a poll's slack at the start).
    assert min(steps) > began["quality gate"]
    assert not [t for t in steps if began["timing"] + 0.5 < t < began["done"]]
    # Stopped, not killed: the work went on after the timing (60 steps do not fit in the gate).
    assert max(steps) > began["done"]
    # The jobs after speed ran after it; the last one after everything else.
    assert min(map(float, after.read_text().split())) > began["done"]
    assert min(map(float, last.read_text().split())) > max(steps)
    assert (tmp_path / "logs" / "rerun-quality.log").exists()


def test_the_last_runs_wait_for_the_load_average_to_settle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-minute load average trails the runs that just ended: the re-time waits for it."""
    readings = iter([2.0, 1.2, 0.7, 0.3])
    seen: list[float] = []

    def loadavg() -> tuple[float, float, float]:
        seen.append(next(readings, 0.3))
        return seen[-1], 0.0, 0.0

    monkeypatch.setattr(rerun.os, "getloadavg", loadavg)
    last = tmp_path / "l"
    plan = Plan(
        speed=_job("speed", WORK, tmp_path / "s", 1),
        beside=[],
        after=[],
        last=[_job("last", WORK, last, 1)],
    )
    assert run_plan(plan, tmp_path, poll=0.01, settle_load=0.5) == {"speed": 0, "last": 0}
    assert seen[:4] == [2.0, 1.2, 0.7, 0.3] and last.exists()
    # A machine that never settles delays the re-time by the timeout, then it runs anyway.
    monkeypatch.setattr(rerun.os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    assert rerun.settle(0.5, timeout=0.2, poll=0.01) == 3.0


def test_a_previous_runs_json_is_not_read_as_this_ones(tmp_path: Path) -> None:
    (tmp_path / "speed.json").write_text(json.dumps({"phase": "timing"}))
    assert speed_phase(tmp_path, since=0) == "timing"
    mtime = (tmp_path / "speed.json").stat().st_mtime
    assert speed_phase(tmp_path, since=mtime + 1) is None
    assert speed_phase(tmp_path / "absent", since=0) is None


def test_a_failed_run_is_reported_and_the_others_still_run(tmp_path: Path) -> None:
    work = tmp_path / "w"
    plan = Plan(
        speed=Job("speed", [[sys.executable, "-c", "raise SystemExit(3)"]]),
        beside=[_job("quality", WORK, work, 2)],
        after=[],
        last=[],
    )
    assert run_plan(plan, tmp_path, poll=0.05) == {"speed": 3, "quality": 0}
    assert len(work.read_text().split()) == 2


def test_stopping_the_rerun_ends_every_run_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the speed run times: the run beside it is stopped at that moment, in its own
    process group; it must end too, not wait forever."""
    plan = Plan(
        speed=_job("speed", SPEED, tmp_path, tmp_path / "p"),
        beside=[_job("quality", WORK, tmp_path / "w", 10_000)],
        after=[],
        last=[],
    )
    real_sleep = time.sleep

    def interrupt_while_timing(seconds: float) -> None:
        if speed_phase(tmp_path, 0) == "timing" and plan.beside[0].running:
            raise KeyboardInterrupt
        real_sleep(seconds)

    monkeypatch.setattr(rerun.time, "sleep", interrupt_while_timing)
    with pytest.raises(KeyboardInterrupt):
        run_plan(plan, tmp_path, poll=0.05)
    monkeypatch.undo()
    try:
        for job in (plan.speed, *plan.beside):
            assert job.process is not None
            job.process.wait(timeout=10)  # ended, not left stopped
    finally:  # a failure here must not leave the stub behind, stopped
        for job in (plan.speed, *plan.beside):
            job.send(signal.SIGKILL)
