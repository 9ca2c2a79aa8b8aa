"""What every ``oncoclass`` command shares: the Typer app, the consoles, options, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from oncoclass.data.tasks import TASKS
from oncoclass.settings import configure_runtime, get_settings

app = typer.Typer(
    help="OncoClass: classify cancer variants from clinical evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Fetch and inspect data sets in the data home.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console(stderr=True)
out = Console()


@app.callback()
def main() -> None:
    """OncoClass: classify cancer variants from clinical evidence."""
    configure_runtime()


TaskOpt = Annotated[str, typer.Option("--task", "-t", help=f"One of: {', '.join(TASKS)}.")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="baseline, cnn, encoder, multimodal or ensemble (default)."),
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Data folder (CIViC TSVs or MSKCC files) or a CSV/JSONL file; "
        "default for CIViC: the data home.",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="Random seed (training is reproducible with it).")]


def fail(exc: Exception) -> NoReturn:
    # The message may quote user input: printed as text, never interpreted as rich markup.
    console.print(Text("error: ", style="bold red") + Text(str(exc)))
    raise typer.Exit(code=2)


def default_model_dir(task: str, model: str) -> Path:
    return get_settings().models_dir / f"{task}-{model}"


def print_metrics(result, title: str) -> None:  # noqa: ANN001 (ValidationResult)
    from oncoclass.evaluation import format_summary_table

    table = format_summary_table(result)
    table.title = title
    out.print(table)
