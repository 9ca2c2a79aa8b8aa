"""``python -m benchmarks.rerun``: every benchmark behind docs/benchmarks.md, on the current
commit, in one command (about 2 hours on 2 cores; one after the other they take 3).

The speed benchmark times, so nothing else may run while it does; but its training and its
back-end quality gate only need CPU, as do the quality benchmarks. So:

1. ``speed`` starts alone (it trains its models);
2. when its quality gate starts (the ``phase`` in its JSON), ``quality-civic`` starts beside
   it, and ``temporal`` then ``quality-mskcc``;
3. when it starts timing, those are stopped (SIGSTOP to their process groups) until it ends,
   then continued;
4. then ``benchmarks.privacy`` and ``benchmarks.scaling`` (which records the load it ran
   under: the quality runs may still be going);
5. with ``--retime``, once everything else has ended and the one-minute load average has
   settled (it trails the runs that just ended by a minute), ``speed --timing-only`` times the
   same models again on the quiet machine.

Each run's output goes to ``<out>/logs/rerun-<name>.log``; then ``python -m benchmarks
markdown`` prints the tables (docs/scaling.md's table is in ``<out>/scaling-table.md``). A run
that fails is reported and the others go on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import DEFAULT_OUT, console
from benchmarks.speed import DONE, GATE, TIMING

#: The models each benchmark runs (those docs/benchmarks.md reports).
QUALITY_MODELS = "ref-prior,ref-peer,baseline,cnn,encoder,multimodal,ensemble"
SPEED_MODELS = "ref-peer,ensemble"
DEFAULT_MODEL_DIR = "models/ensemble--onnx-int8"
#: The re-time waits for the one-minute load average to fall under this (a quiet 2-core
#: machine reads ~0.1), for at most ``SETTLE_TIMEOUT`` seconds.
SETTLE_LOAD = 0.5
SETTLE_TIMEOUT = 300.0


@dataclass
class Job:
    """One command line, or several run one after another (``&&``), in its own process group
    (so that stopping it stops whatever it started: workers, servers)."""

    name: str
    commands: list[list[str]]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        line = " && ".join(shlex.join(c) for c in self.commands)
        with (logs / f"rerun-{self.name}.log").open("wb") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", line],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group
            )
        console.log(f"rerun: {self.name} started ({line})")

    def send(self, sig: signal.Signals) -> None:
        if self.running:
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):  # it ended since: nothing to signal
                os.killpg(self.process.pid, sig)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self) -> int:
        assert self.process is not None
        code = self.process.wait()
        console.log(f"rerun: {self.name} ended ({'ok' if code == 0 else f'exit {code}'})")
        return code


@dataclass
class Plan:
    """What runs when (see the module's docstring)."""

    speed: Job
    beside: list[Job]  # started with the speed run's quality gate, stopped while it times
    after: list[Job]  # one after another, once the speed run has ended
    last: list[Job]  # once everything else has ended


def speed_phase(out_dir: Path, since: float) -> str | None:
    """The phase the speed run's JSON states, if it was written after ``since``."""
    path = out_dir / "speed.json"
    try:
        if path.stat().st_mtime < since:
            return None  # a previous run's
        return json.loads(path.read_text()).get("phase")
    except (OSError, ValueError):
        return None  # not written yet (it is replaced atomically: never half-written)


def settle(load: float, timeout: float, poll: float) -> float:
    """Wait until the one-minute load average is under ``load`` (at most ``timeout`` seconds);
    returns the load average it read last."""
    deadline = time.monotonic() + timeout
    while (now := os.getloadavg()[0]) >= load and time.monotonic() < deadline:
        time.sleep(poll)
    return now


def run_plan(
    plan: Plan,
    out_dir: Path,
    *,
    poll: float = 2.0,
    settle_load: float = SETTLE_LOAD,
    settle_timeout: float = SETTLE_TIMEOUT,
) -> dict[str, int]:
    """Run ``plan``; returns each job's exit status."""
    try:
        return _run(plan, out_dir, poll, settle_load, settle_timeout)
    finally:
        # Ctrl-C, or an error here: end what was started, the stopped runs included (their
        # process groups are their own, and a stopped run would wait forever).
        for job in [plan.speed, *plan.beside, *plan.after, *plan.last]:
            job.send(signal.SIGTERM)
            job.send(signal.SIGCONT)


def _run(
    plan: Plan, out_dir: Path, poll: float, settle_load: float, settle_timeout: float
) -> dict[str, int]:
    logs = out_dir / "logs"
    started = time.time()
    codes: dict[str, int] = {}
    plan.speed.start(logs)
    beside_started = paused = False
    while plan.speed.running:
        phase = speed_phase(out_dir, started)
        if not beside_started and phase in (GATE, TIMING, DONE):
            for job in plan.beside:
                job.start(logs)
            beside_started = True
        if beside_started and not paused and phase in (TIMING, DONE):
            for job in plan.beside:
                job.send(signal.SIGSTOP)
            paused = True
            console.log("rerun: the speed run is timing: the others are stopped until it ends")
        time.sleep(poll)
    codes[plan.speed.name] = plan.speed.wait()
    if not beside_started:  # the speed run ended before its gate (it failed): run them anyway
        for job in plan.beside:
            job.start(logs)
    for job in plan.beside:
        job.send(signal.SIGCONT)
    for job in plan.after:
        job.start(logs)
        codes[job.name] = job.wait()
    for job in plan.beside:
        codes[job.name] = job.wait()
    if plan.last:
        load = settle(settle_load, settle_timeout, poll)
        console.log(f"rerun: load average {load:.2f}, starting the last runs")
    for job in plan.last:
        job.start(logs)
        codes[job.name] = job.wait()
    return codes


def default_plan(out_dir: Path, *, retime: bool) -> Plan:
    py = [sys.executable, "-m"]
    out = ["--out", str(out_dir)]
    speed = [*py, "benchmarks", "speed", "--models", SPEED_MODELS, *out]
    model = str(out_dir / DEFAULT_MODEL_DIR)
    return Plan(
        speed=Job("speed", [speed]),
        beside=[
            Job(
                "quality-civic",
                [[*py, "benchmarks", "quality-civic", "--models", QUALITY_MODELS, *out]],
            ),
            Job(
                "temporal+mskcc",
                [[*py, "benchmarks", "temporal", *out], [*py, "benchmarks", "quality-mskcc", *out]],
            ),
        ],
        after=[
            Job("privacy", [[*py, "benchmarks.privacy", "--model-dir", model, *out]]),
            Job(
                "scaling",
                [
                    [*py, "benchmarks.scaling", "--model-dir", model, "--text-rows", "2000"]
                    + [*out, "--markdown", str(out_dir / "scaling-table.md")]
                ],
            ),
        ],
        last=[Job("retime", [[*speed, "--timing-only"]])] if retime else [],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rerun",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Results folder.")
    parser.add_argument(
        "--retime",
        action="store_true",
        help="At the end, on the quiet machine, time the speed run's models again.",
    )
    args = parser.parse_args(argv)
    codes = run_plan(default_plan(args.out, retime=args.retime), args.out)
    failed = {name: code for name, code in codes.items() if code}
    if failed:
        console.print(f"[bold red]failed:[/] {failed} (logs in {args.out / 'logs'})")
        return 1
    console.print("every benchmark ran; now: python -m benchmarks markdown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
