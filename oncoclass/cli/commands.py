"""The core commands: data, train, evaluate, predict, serve."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from oncoclass.cli.common import (
    DataOpt,
    ModelOpt,
    SeedOpt,
    TaskOpt,
    app,
    console,
    data_app,
    default_model_dir,
    fail,
    out,
    print_metrics,
)
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE
from oncoclass.errors import OncoClassError
from oncoclass.settings import get_settings


# ---- data ------------------------------------------------------------------------------------
@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="Data set to fetch: civic.")] = "civic",
    from_path: Annotated[Path | None, typer.Option("--from", help="Import a local copy.")] = None,
    url: Annotated[str | None, typer.Option(help="URL template with {release} and {name}.")] = None,
    release: Annotated[
        str | None,
        typer.Option(
            help='"latest" (the newest monthly release, default), "nightly" or a date such as '
            "01-Aug-2024. Older releases are kept beside it."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Download again even if present.")] = False,
) -> None:
    """Download the CIViC release TSVs (or import a local copy) into the data home."""
    from oncoclass.data import fetch_civic

    if name != "civic":
        fail(
            OncoClassError(
                f"unknown data set {name!r}: only 'civic' can be fetched "
                "(MSKCC's Kaggle files are read with --data FOLDER)"
            )
        )
    try:
        path = fetch_civic(url_template=url, release=release, from_path=from_path, force=force)
    except OncoClassError as exc:
        fail(exc)
    from oncoclass.data.civic import civic_release

    info = civic_release(path)
    out.print(Text(f"CIViC release {info.name} ({info.format} format) ready in {path}"))


@data_app.command("update")
def data_update(
    release: Annotated[
        str, typer.Option(help='The release to compare with: "latest", "nightly" or a date.')
    ] = "latest",
    from_path: Annotated[Path | None, typer.Option("--from", help="Import a local copy.")] = None,
    url: Annotated[str | None, typer.Option(help="URL template with {release} and {name}.")] = None,
    model_dir: Annotated[Path | None, typer.Option(help="The model to assess.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
) -> None:
    """Fetch a newer CIViC release and report what changed against the model's training
    release: new, changed and withdrawn items, new classes, class-frequency shift, the model's
    metrics on the items added since it was trained, and whether to retrain."""
    import json as _json

    from oncoclass import workflows
    from oncoclass.data import fetch_civic
    from oncoclass.models import load_model
    from oncoclass.models.store import resolve_model_dir

    settings = get_settings()
    try:
        new_dir = fetch_civic(
            url_template=url,
            release=None if from_path else release,
            from_path=from_path,
            progress=not as_json,
        )
        model = load_model(resolve_model_dir(model_dir or settings.default_model_dir))
        report = workflows.update_report(model, new_dir, settings.data_home)
    except OncoClassError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(_json.dumps(report.to_dict(), indent=1, default=str) + "\n")
        return
    for line in report.lines():
        out.print(Text(line, style="bold" if line.startswith("RECOMMENDATION") else ""))


@data_app.command("info")
def data_info() -> None:
    """Show the data home and what it holds."""
    from oncoclass.data.home import civic_releases
    from oncoclass.models.store import current_version, versions

    settings = get_settings()
    out.print(Text(f"data home: {settings.data_home}"))
    for release in civic_releases(settings.data_home):
        out.print(Text(f"  CIViC {release.name} ({release.format} format): {release.directory}"))
    homes = sorted(settings.models_dir.iterdir()) if settings.models_dir.is_dir() else []
    for home in homes:
        current = current_version(home)
        for version in versions(home):
            mark = "  <- current" if current == version.resolve() else ""
            out.print(Text(f"  model {home.name}/{version.name}{mark}"))


# ---- train / evaluate ------------------------------------------------------------------------
@app.command()
def train(
    task: TaskOpt = CLINICAL_SIGNIFICANCE,
    model: ModelOpt = None,
    data: DataOpt = None,
    output: Annotated[Path | None, typer.Option("--out", "-o", help="Model directory.")] = None,
    cv: Annotated[
        int,
        typer.Option(
            help="Cross-validate with K grouped folds first and "
            "store the metrics in the model card (0: skip)."
        ),
    ] = 0,
    min_support: Annotated[int, typer.Option(help="CIViC: drop classes with fewer items.")] = 30,
    text: Annotated[
        bool, typer.Option(help="Use the evidence text (MSKCC: --no-text for variants only).")
    ] = True,
    epochs: Annotated[int | None, typer.Option(help="Neural models: most epochs.")] = None,
    seed: SeedOpt = 13,
    if_missing: Annotated[bool, typer.Option(help="Do nothing if the model exists.")] = False,
) -> None:
    """Train a model and save it as one self-describing directory.

    Without --out, the model becomes a new version in the data home's model folder and the
    ``current`` pointer moves to it once it is complete: a running service switches to it
    (within Settings.model_poll_seconds, at once on SIGHUP or POST /v1/admin/reload)."""
    from oncoclass import workflows
    from oncoclass.models.base import MODEL_FILE
    from oncoclass.models.store import current_version

    model = model or get_settings().default_model
    versioned = output is None
    output = output or default_model_dir(task, model)
    existing = current_version(output) if versioned else None
    if if_missing and (existing or (output / MODEL_FILE).exists()):
        out.print(Text(f"model exists: {existing or output}"))
        return
    params = {"epochs": epochs} if epochs else {}
    try:
        samples = workflows.load_task_samples(task, data, min_support=min_support, text=text)
        releases = sorted({s.extra.get("release", "") for s in samples} - {""})
        console.print(
            Text(f"{len(samples):,} samples for {task}")
            + Text(f" (CIViC {', '.join(releases)})" if releases else "")
        )
        result = None
        if cv:
            result = workflows.evaluate(task, model, samples, folds=cv, seed=seed, **params)
            print_metrics(result, f"{model} on {task}: {cv}-fold grouped cross-validation")
        workflows.train(
            task, model, samples, output, seed=seed, cv=result, versioned=versioned, **params
        )
    except OncoClassError as exc:
        fail(exc)
    saved = current_version(output) if versioned else output
    out.print(Text(f"model saved to {saved}"))


@app.command()
def evaluate(
    task: TaskOpt = CLINICAL_SIGNIFICANCE,
    model: ModelOpt = None,
    data: DataOpt = None,
    folds: Annotated[int, typer.Option(help="Grouped cross-validation folds.")] = 5,
    test: Annotated[
        str | None,
        typer.Option(
            help="Fixed train/test mode instead of CV: 'stage1' (MSKCC) or a CSV/JSONL file."
        ),
    ] = None,
    output: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path("report"),
    min_support: Annotated[int, typer.Option(help="CIViC: drop classes with fewer items.")] = 30,
    text: Annotated[bool, typer.Option(help="Use the evidence text.")] = True,
    epochs: Annotated[int | None, typer.Option(help="Neural models: most epochs.")] = None,
    seed: SeedOpt = 13,
) -> None:
    """Grouped k-fold cross-validation (or a fixed train/test split) with a full report."""
    from oncoclass import workflows

    model = model or get_settings().default_model
    from oncoclass.evaluation import write_report

    params = {"epochs": epochs} if epochs else {}
    try:
        samples = workflows.load_task_samples(task, data, min_support=min_support, text=text)
        test_samples = None
        if test == "stage1":
            test_samples = workflows.load_task_samples(task, data, text=text, split="stage1")
        elif test:
            test_samples = workflows.load_task_samples(task, Path(test))
        result = workflows.evaluate(
            task, model, samples, folds=folds, seed=seed, test=test_samples, **params
        )
    except OncoClassError as exc:
        fail(exc)
    protocol = "fixed train/test split" if test_samples else f"{folds}-fold grouped CV"
    print_metrics(result, f"{model} on {task}: {protocol}")
    paths = write_report(
        result,
        output,
        title=f"OncoClass {model} on {task} ({protocol})",
        model_info={
            "model": model,
            "task": task,
            "data": ", ".join(sorted({s.extra.get("release", "") for s in samples} - {""}))
            or str(data or "data home"),
            "seed": seed,
            "protocol": protocol,
            **params,
        },
    )
    out.print(f"report: {paths['report']}")


# ---- predict ---------------------------------------------------------------------------------
@app.command()
def predict(
    gene: Annotated[str, typer.Option(help="Gene symbol, e.g. TP53.")],
    variation: Annotated[str, typer.Option(help="Protein change, e.g. R273C.")],
    text_file: Annotated[Path | None, typer.Option(help="Evidence text file.")] = None,
    text: Annotated[str, typer.Option(help="Evidence text (instead of a file).")] = "",
    disease: Annotated[str, typer.Option(help="Disease context.")] = "",
    drugs: Annotated[list[str] | None, typer.Option("--drug", help="A drug (repeatable).")] = None,
    model_dir: Annotated[Path | None, typer.Option(help="Trained model directory.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The API's JSON answer (same schema).")
    ] = False,
) -> None:
    """Classify one variant: the class, every class's probability, the prediction set, the
    warnings, the sentences that drove it and what CIViC says about the variant."""
    from pydantic import ValidationError

    from oncoclass.schemas import PredictionCreate
    from oncoclass.service import OncoClassService

    settings = get_settings()
    if model_dir is not None:
        settings = settings.model_copy(update={"model_dir": model_dir})
    try:
        if text_file is not None:
            text = text_file.read_text(encoding="utf-8", errors="replace")
        request = PredictionCreate(
            gene=gene, variation=variation, text=text, disease=disease, drugs=drugs or []
        )
        service = OncoClassService.start(settings, history=False)
        result = service.predict(request, store=False)
    except ValidationError as exc:
        error = exc.errors()[0]
        fail(OncoClassError(f"--{error['loc'][0]}: {error['msg']}"))
    except (OncoClassError, OSError) as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=1) + "\n")
        return
    show_prediction(result)


def show_prediction(result) -> None:  # noqa: ANN001 (PredictionPublic; imported lazily)
    """A prediction for people: user-given strings are shown as plain text, never as markup."""

    head = Text()
    head.append(f"{result.gene} {result.variation}", style="bold")
    head.append(": ")
    head.append(result.name, style="bold green")
    head.append(f" (p = {result.probability:.3f})   model {result.model.name} ")
    head.append(result.model.version)
    out.print(head)
    sets = result.prediction_set
    if sets.coverage is not None:
        out.print(Text(f"cannot be ruled out ({sets.coverage:.0%} prediction set): ")
                  + Text(" | ".join(sets.names), style="cyan"))  # fmt: skip
    for w in result.warnings:
        style = "yellow" if w.severity == "warning" else "dim"
        out.print(Text(f"{w.severity}: ", style=style) + Text(w.message))
    table = Table("class", "probability", "")
    for c in sorted(result.probabilities, key=lambda c: -c.probability):
        table.add_row(Text(c.name), f"{c.probability:.3f}", "█" * round(c.probability * 30))
    out.print(table)
    for span in sorted(result.evidence, key=lambda e: -e.weight)[:3]:
        out.print(Text(f"  {span.weight:+.3f} ", style="dim") + Text(span.text[:160]))
    kb = result.knowledge
    if kb is not None:
        out.print(Text(f"CIViC: {kb.match} match, {kb.total} evidence item(s)", style="bold"))
        for item in kb.items[:5]:
            therapies = ", ".join(item.therapies) or "-"
            out.print(
                Text(f"  {item.evidence_level} {item.evidence_type}: {item.clinical_significance}"
                     f" | {item.disease} | {therapies} | EID{item.evidence_id}")
            )  # fmt: skip


# ---- serve / run -----------------------------------------------------------------------------
@app.command()
def serve(
    model_dir: Annotated[Path | None, typer.Option(help="Trained model directory.")] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the web page and the HTTP API."""
    import os

    import uvicorn

    # The app factory reads its settings from the environment (also in worker processes); the
    # host decides whether API keys are required, so it must be the one really bound.
    if model_dir is not None:
        os.environ["ONCOCLASS_MODEL_DIR"] = str(model_dir)
    if host is not None:
        os.environ["ONCOCLASS_HOST"] = host
    get_settings.cache_clear()
    settings = get_settings()
    uvicorn.run(
        "oncoclass.api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
    )
