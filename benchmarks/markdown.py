"""The JSON results as Markdown tables, to paste into docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.harness import Grid, metrics_grid, targets_grid

ORDER = (
    "quality-civic",
    "quality-mskcc",
    "quality-mskcc-text-stage1",
    "quality-mskcc-text-cv",
    "speed",
)


def grids_of(result: dict[str, Any]) -> list[Grid]:
    if result["benchmark"] == "speed":
        from benchmarks.speed import speed_grids

        return speed_grids(result)
    grids = [metrics_grid(result["title"], result["results"])]
    if result.get("targets"):
        grids.append(targets_grid(result["targets"]))
    return grids


def results_markdown(results_dir: Path) -> str:
    parts = []
    for name in ORDER:
        path = results_dir / f"{name}.json"
        if not path.is_file():
            continue
        result = json.loads(path.read_text())
        m = result["machine"]
        parts.append(
            f"### {name}\n\n`{m['command']}`, {m['date']}, {m['cpu']} "
            f"({m['cores']} cores, load {m.get('loadavg_1m', '?')}), {m['platform']}, "
            f"torch {m['torch']}\n"
        )
        parts += [g.markdown() + "\n" for g in grids_of(result)]
    return "\n".join(parts)
