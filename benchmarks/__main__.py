"""``python -m benchmarks NAME [--quick] [--out DIR]``: run a benchmark, print its tables and
write ``DIR/NAME.json``.

Names: ``quality-civic``, ``quality-mskcc``, ``quality-mskcc-text --text DIR``, ``speed``,
``all`` (every one but ``quality-mskcc-text``, which needs the Kaggle texts), and ``markdown``
(the tables of the JSON results in DIR as Markdown, for docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from benchmarks.harness import DEFAULT_OUT, SHARED_DATA, console

NAMES = (
    "quality-civic",
    "temporal",
    "quality-mskcc",
    "quality-mskcc-text",
    "speed",
    "all",
    "markdown",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=NAMES)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Small subsets, 2 folds, 1 epoch, few timing runs (a smoke run).",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Results folder.")
    parser.add_argument(
        "--civic",
        type=Path,
        default=None,
        help="Current CIViC release folder (default: ../shared/data/civic_2024).",
    )
    parser.add_argument(
        "--old-civic",
        type=Path,
        default=None,
        help="temporal: the older CIViC release (default: ../shared/data/civic).",
    )
    parser.add_argument(
        "--seeds",
        default=None,
        help="quality-civic: comma-separated seeds (default 13,14,15); speed: the seeds of the "
        "default model on each back-end (the quality gate, default 13,14,15).",
    )
    parser.add_argument(
        "--mskcc",
        type=Path,
        default=None,
        help="Folder with the Kaggle MSKCC variants files (default: ../shared/data/mskcc).",
    )
    parser.add_argument(
        "--text",
        type=Path,
        default=None,
        help="quality-mskcc-text: folder with training_text and test_text.",
    )
    parser.add_argument(
        "--models", default=None, help="Comma-separated model names to run (default: all)."
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--no-http", action="store_true", help="speed: skip the HTTP part.")
    parser.add_argument(
        "--timing-only",
        action="store_true",
        help="speed: time the models of the last run in --out (same model code and training "
        "configuration) and carry its training and quality rows over.",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from oncoclass.errors import OncoClassError
    from oncoclass.settings import configure_runtime

    configure_runtime()  # the threads the CLI and the service use (Settings.torch_threads)
    args = parse_args(argv)
    try:
        run(args)
    except OncoClassError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    return 0


def run(args: argparse.Namespace) -> None:
    from benchmarks import quality

    only = args.models.split(",") if args.models else None
    civic = args.civic or (SHARED_DATA / "civic_2024").resolve()
    old_civic = args.old_civic or (SHARED_DATA / "civic").resolve()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else quality.SEEDS
    mskcc = args.mskcc or (SHARED_DATA / "mskcc").resolve()
    common = {"out_dir": args.out, "quick": args.quick, "only": only}
    if args.name in ("quality-civic", "all"):
        quality.quality_civic(civic, folds=args.folds, seed=args.seed, seeds=seeds, **common)
    if args.name in ("temporal", "all"):
        from benchmarks.temporal import temporal

        temporal(old_civic, civic, seed=args.seed, **common)
    if args.name in ("quality-mskcc", "all"):
        quality.quality_mskcc(mskcc, seed=args.seed, **common)
    if args.name == "quality-mskcc-text":
        if args.text is None:
            raise SystemExit("quality-mskcc-text needs --text DIR (training_text, test_text)")
        quality.quality_mskcc_text(
            args.text, args.mskcc, folds=args.folds, seed=args.seed, **common
        )
    if args.name in ("speed", "all"):
        from benchmarks.speed import SpeedConfig, speed

        cfg = SpeedConfig.quick() if args.quick else SpeedConfig()
        if args.no_http:
            cfg = dataclasses.replace(cfg, http=False)
        if args.seeds:  # the seeds of the default model's variants (the back-end gate)
            cfg = dataclasses.replace(cfg, gate_seeds=tuple(seeds))
        speed(civic, mskcc, cfg=cfg, timing_only=args.timing_only, **common)
    if args.name == "markdown":
        from benchmarks.markdown import StaleResultError, results_markdown

        try:
            print(results_markdown(args.out))
        except StaleResultError as exc:
            raise SystemExit(f"refused: {exc}") from exc


if __name__ == "__main__":
    sys.exit(main())
