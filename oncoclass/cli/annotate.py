"""``oncoclass annotate INPUT``: a lab's variant file (VCF, MAF, CSV/TSV) annotated, written as
CSV, JSON and a self-contained HTML report."""

from __future__ import annotations

from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from oncoclass.cli.common import app, console, fail, out
from oncoclass.errors import InvalidInputError, OncoClassError
from oncoclass.settings import get_settings

if TYPE_CHECKING:  # imported when used: `oncoclass --help` stays fast
    from oncoclass.annotate import Annotation, Scorer


class Engine(StrEnum):
    local = "local"
    ray = "ray"


#: Actionable variants listed in the terminal (the report has all of them).
SHOWN = 10


@app.command("annotate")
def annotate_command(
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="VCF annotated by VEP or SnpEff (plain or gzipped), MAF, or CSV/TSV table "
            "(gene, variation, optional text, disease, drugs, sample).",
        ),
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the reports (created).")
    ] = Path("report"),
    formats: Annotated[
        str, typer.Option("--format", "-f", help="Comma-separated: csv, json, html.")
    ] = "csv,json,html",
    disease: Annotated[
        str, typer.Option(help="Disease of the rows that name none (tiers hold for a disease).")
    ] = "",
    engine: Annotated[
        Engine,
        typer.Option(help="local: this process (default, best for a patient's file); ray: Ray."),
    ] = Engine.local,
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to join (default: an embedded local Ray)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Ray actors, one model each (embedded Ray: its CPUs).")
    ] = 2,
    model_dir: Annotated[Path | None, typer.Option(help="Trained model directory.")] = None,
    file_format: Annotated[
        str | None,
        typer.Option(help="vcf, maf or table (default: told by the file's content)."),
    ] = None,
) -> None:
    """Annotate a file of variants: each distinct variant scored once however many samples
    carry it, with its AMP/ASCO/CAP tier, therapies and evidence from CIViC, and every row kept
    (errors included). Writes INPUT's name + .oncoclass.csv/.json/.html into --out."""
    from oncoclass.annotate import FORMATS, annotate_file, write_reports
    from oncoclass.knowledge import KnowledgeBase
    from oncoclass.service import OncoClassService, load_predictor

    wanted = [f.strip().lower() for f in formats.split(",") if f.strip()]
    unknown = sorted(set(wanted) - set(FORMATS))
    if unknown or not wanted:
        fail(InvalidInputError(f"--format: expected some of {', '.join(FORMATS)}, not {formats!r}"))
    settings = get_settings()
    if model_dir is not None:
        settings = settings.model_copy(update={"model_dir": model_dir})
    try:
        # No warm-up and no history: a file is annotated once, not served.
        predictor = load_predictor(settings, settings.default_model_dir)
        knowledge = KnowledgeBase.from_data_home(settings.data_home)
        if not knowledge.available:
            console.print(
                Text("warning: ", style="yellow")
                + Text(f"no CIViC knowledge base ({knowledge.reason}); tiers and therapies ")
                + Text("are missing: run `oncoclass data fetch civic`")
            )
        service = OncoClassService(settings, knowledge=knowledge, predictor=predictor)
        scorer = _scorer(engine, address, workers)
        with _Progress() as progress:
            annotation = annotate_file(
                service,
                input_path,
                file_format=file_format,
                disease=disease,
                store=False,
                scorer=scorer,
                progress=progress.update,
            )
            try:
                progress.update("write", 0, len(wanted))
                paths = write_reports(annotation, out_dir, _stem(input_path), wanted)
                progress.update("write", len(wanted), len(wanted))
            except BaseException:
                annotation.close()
                raise
        with annotation:  # the summary after the progress bars, not among them
            _show(annotation, paths)
    except (OncoClassError, OSError) as exc:
        fail(exc)


def _scorer(engine: Engine, address: str | None, workers: int) -> Scorer:
    if engine is Engine.ray:
        from oncoclass.annotate.ray_engine import RayScorer

        return RayScorer(address=address, workers=workers)
    if address is not None:
        raise InvalidInputError("--address needs --engine ray", field="address")
    from oncoclass.annotate import LocalScorer

    return LocalScorer()


def _stem(path: Path) -> str:
    """``tumour`` for tumour.vcf.gz, tumour.vcf, tumour.maf."""
    name = path.name.removesuffix(".gz").removesuffix(".bgz")
    return Path(name).stem or "annotation"


class _Progress:
    """The engine's progress callback as rich progress bars on stderr (one per stage)."""

    LABELS = {
        "read": "reading rows",
        "score": "scoring variants",
        "annotate": "CIViC look-ups",
        "write": "writing reports",
    }

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Progress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, stage: str, done: int, total: int | None) -> None:
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._progress.add_task(
                self.LABELS.get(stage, stage), total=total
            )
        self._progress.update(task, completed=done, total=total)


def _show(annotation: Annotation, paths: dict[str, Path]) -> None:
    """A short summary for people; strings from the file are printed as text, never markup."""
    from oncoclass.annotate.writers import therapy_words

    s = annotation.summary
    head = Text()
    head.append(annotation.source, style="bold")
    head.append(
        f": {s.rows:,} rows, {s.samples:,} samples, {s.variants:,} distinct variants "
        f"({s.scored:,} scored, {s.non_coding:,} non-coding), {s.failed:,} rows with errors"
    )
    out.print(head)
    tiers = ", ".join(f"{tier} {count:,}" for tier, count in s.by_tier.items()) or "none"
    out.print(Text(f"tiers: {tiers}; {s.with_warnings:,} scored variants with warnings"))
    if s.actionable:
        table = Table("variant", "tier", "top therapy", "samples", title="actionable variants")
        for variant in islice(annotation.actionable(), SHOWN):
            therapy = therapy_words(variant.therapies[0]) if variant.therapies else ""
            table.add_row(
                Text(f"{variant.gene} {variant.variation}"),
                Text(variant.tier.label if variant.tier else ""),
                Text(therapy),
                str(variant.n_samples),
            )
        out.print(table)
        if s.actionable > SHOWN:
            out.print(Text(f"... and {s.actionable - SHOWN:,} more in the report"))
    else:
        out.print(Text("no actionable (Tier I/II) variant"))
    for fmt, path in paths.items():
        out.print(Text(f"{fmt}: ") + Text(str(path)))
