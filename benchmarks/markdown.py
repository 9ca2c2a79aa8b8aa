"""The JSON results as Markdown, for docs/benchmarks.md — only those measured on this code.

A figure must describe the code it stands beside: a result whose model code (the hash of
``harness.MODEL_CODE``) differs from the working tree's, or that was measured on uncommitted
model code, is refused with the reason, never printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.harness import Grid, code_hash, metrics_grid, targets_grid

ORDER = (
    "quality-civic",
    "temporal",
    "quality-mskcc",
    "quality-mskcc-text-stage1",
    "quality-mskcc-text-cv",
    "speed",
    "privacy",
)


class StaleResultError(Exception):
    """A result measured on other model code than the working tree's."""


def grids_of(result: dict[str, Any]) -> list[Grid]:
    if result["benchmark"] == "speed":
        from benchmarks.speed import speed_grids

        return speed_grids(result)
    if result["benchmark"] == "privacy":
        from benchmarks.privacy import privacy_grids

        return privacy_grids(result)
    if result["benchmark"] == "temporal":
        from benchmarks.temporal import temporal_grids

        return temporal_grids(result)
    grids = [metrics_grid(result["title"], result["summary"])]
    if result.get("targets"):
        grids.append(targets_grid(result["targets"]))
    if result.get("selection"):
        from benchmarks.quality import selection_grid

        grids.append(selection_grid(result["selection"]))
    return grids


def check_current(result: dict[str, Any], name: str) -> None:
    """Raise :class:`StaleResultError` unless ``result`` was measured on this model code."""
    machine = result.get("machine", {})
    if machine.get("model_code_dirty"):
        raise StaleResultError(
            f"{name}: measured on uncommitted model code (commit {machine.get('commit')}, "
            "dirty): commit, then run it again"
        )
    if machine.get("code_hash") != code_hash():
        raise StaleResultError(
            f"{name}: measured on other model code (commit {machine.get('commit')}, code "
            f"{machine.get('code_hash')}; this tree: {code_hash()}): run it again"
        )


def results_markdown(results_dir: Path, *, strict: bool = True) -> str:
    """Every current result in ``results_dir`` as Markdown. With ``strict`` a stale one stops
    everything (the default); without, it is left out with a note saying why."""
    parts = []
    for name in ORDER:
        path = results_dir / f"{name}.json"
        if not path.is_file():
            continue
        result = json.loads(path.read_text())
        try:
            check_current(result, name)
        except StaleResultError as exc:
            if strict:
                raise
            parts.append(f"### {name}\n\n_Left out: {exc}._\n")
            continue
        m = result["machine"]
        parts.append(
            f"### {name}\n\n`{m['command']}` on commit `{(m.get('commit') or '?')[:10]}`, "
            f"{m['date']}, {m['cpu']} ({m['cores']} cores, load {m.get('loadavg_1m', '?')}), "
            f"torch {m['torch']}\n"
        )
        parts += [g.markdown() + "\n" for g in grids_of(result)]
        oof = results_dir / f"{name}-oof.npz"
        if name == "quality-civic" and oof.is_file():
            from benchmarks.quality import class_loss_grids

            try:
                parts += [g.markdown() + "\n" for g in class_loss_grids(result, oof)]
            except ValueError as exc:
                if strict:
                    raise StaleResultError(f"{name}: {exc}") from exc
                parts.append(f"_Per-class losses left out: {exc}._\n")
    return "\n".join(parts)
