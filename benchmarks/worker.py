"""What the speed benchmark runs in child processes, so each measurement starts clean.

python -m benchmarks.worker train --model cnn --data CIVIC_DIR --out MODEL_DIR
    Train one model on the full CIViC set (as ``oncoclass train`` does: a grouped 10% held
    out for early stopping and calibration), save it, print a JSON line of timings. The
    parent reads the child's peak memory from ``os.wait4``.
python -m benchmarks.worker idle --data CIVIC_DIR
    Import everything and load the data, then stop: the memory floor of a training run.
python -m benchmarks.worker serve --model-dir DIR --civic DIR --port PORT --home DIR
    The HTTP service (``create_app``) on 127.0.0.1 with that model and the CIViC knowledge
    base; references can be served too (they are registered first).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def train(args: argparse.Namespace) -> None:
    from benchmarks.references import register_references
    from oncoclass import workflows
    from oncoclass.data import load_civic
    from oncoclass.models import get_model_class

    register_references()
    start = time.perf_counter()
    samples = load_civic(args.data, min_support=30)
    if args.limit:
        samples = samples[: args.limit]
    loaded = time.perf_counter()
    params = {}
    if args.epochs and "epochs" in get_model_class(args.model)._param_names():
        params["epochs"] = args.epochs
    workflows.train(
        "clinical-significance",
        args.model,
        samples,
        Path(args.out),
        seed=args.seed,
        progress=False,
        **params,
    )
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "n_samples": len(samples),
                "load_seconds": loaded - start,
                "train_seconds": done - loaded,
            }
        )
    )


def idle(args: argparse.Namespace) -> None:
    import oncoclass.models  # noqa: F401  (the imports a training run pays for)
    from benchmarks.references import register_references
    from oncoclass.data import load_civic

    register_references()
    print(json.dumps({"n_samples": len(load_civic(args.data, min_support=30))}))


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from benchmarks.references import register_references
    from oncoclass.api.app import create_app
    from oncoclass.knowledge import KnowledgeBase
    from oncoclass.settings import Settings

    register_references()
    home = Path(args.home)
    settings = Settings(
        data_home=home,
        model_dir=Path(args.model_dir),
        database_url=f"sqlite:///{home / 'history.sqlite3'}",
    )
    app = create_app(settings, knowledge=KnowledgeBase.from_path(args.civic))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=0)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--seed", type=int, default=13)
    p = sub.add_parser("idle")
    p.add_argument("--data", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--civic", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--home", required=True)
    args = parser.parse_args()
    from oncoclass.settings import configure_runtime

    configure_runtime()  # the threads `oncoclass train` and `oncoclass serve` use
    {"train": train, "idle": idle, "serve": serve}[args.command](args)


if __name__ == "__main__":
    main()
