"""``python -m benchmarks.scaling``: rows/s and peak memory of ``oncoclass annotate`` on 1k, 10k
and 100k variant rows, local engine vs Ray with 1 and 2 workers, in one run.

Inputs (built in a temporary folder from the real files, never copied into the repository):

* **MAF**: the MSK SUMMIT MAF's 190 rows (137 distinct variants) repeated with new
  ``Tumor_Sample_Barcode``s (``P7_A-c12``) up to the row count;
* **VCF**: the pVACtools VEP VCF's 140 records with its tumour column copied under new sample
  names (``TUMOR_c12``), so that it has the row count in (record, tumour) rows;
* **text table** (``--text-rows``, default 1,000): CIViC evidence items as a lab table with their
  evidence statements, every row a distinct input; there scoring, not reading, is the work.

Each run is one fresh child process doing what ``oncoclass annotate INPUT`` does (load the
model and CIViC, read, score, look up, write CSV + JSON + HTML), timed end to end. Peak memory is
the child's own maximum RSS (``wait4``) and, for Ray, the largest sum of RSS over the child's
process tree (Ray's GCS, raylet and actor processes), sampled every 0.2 s.

    python -m benchmarks.scaling --model-dir DIR [--civic DIR] [--sizes 1000,10000,100000]
        [--engines local,ray1,ray2] [--out benchmarks/results] [--markdown docs/scaling.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MAF = "msk_summit_neratinib/data_mutations_extended.txt"
VCF = "vcf/pvactools_protein_altering_TN_GRCh38_vep95.vcf"
CIVIC = "civic_2024"
DEFAULT_SIZES = (1_000, 10_000, 100_000)
ENGINES = {"local": ("local", 0), "ray1": ("ray", 1), "ray2": ("ray", 2)}
SAMPLE_EVERY_S = 0.2
console = Console(stderr=True)


@dataclass(frozen=True)
class Input:
    kind: str
    path: Path
    rows: int


@dataclass
class Run:
    input: str
    rows: int
    variants: int
    engine: str
    wall_s: float
    rows_per_s: float
    load_s: float
    read_s: float
    score_s: float
    lookup_write_s: float
    driver_peak_mib: float
    tree_peak_mib: float


# ---- inputs --------------------------------------------------------------------------------------
def build_maf(source: Path, out: Path, rows: int) -> Input:
    """The MAF's rows repeated, each copy with new sample ids, cut at ``rows``."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    column = header.rstrip("\n").split("\t").index("Tumor_Sample_Barcode")
    with out.open("w", encoding="utf-8") as handle:
        handle.write(header)
        for i in range(rows):
            cells = body[i % len(body)].rstrip("\n").split("\t")
            cells[column] = f"{cells[column]}-c{i // len(body)}"
            handle.write("\t".join(cells) + "\n")
    return Input("MAF", out, rows)


def build_vcf(source: Path, out: Path, rows: int) -> Input:
    """The VCF with its TUMOR column copied under new names: records x tumours >= ``rows``."""
    lines = source.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("##")]
    columns = next(line for line in lines if line.startswith("#CHROM")).split("\t")
    records = [line.split("\t") for line in lines if line and not line.startswith("#")]
    tumour = columns.index("TUMOR")
    copies = -(-rows // len(records))
    with out.open("w", encoding="utf-8") as handle:
        handle.write("\n".join(header) + "\n")
        names = [f"TUMOR_c{k}" for k in range(copies)]
        handle.write("\t".join(columns[:tumour] + names) + "\n")
        for cells in records:
            handle.write("\t".join(cells[:tumour] + [cells[tumour]] * copies) + "\n")
    return Input("VCF", out, len(records) * copies)


def build_text_table(civic: Path, out: Path, rows: int) -> Input:
    """CIViC evidence items as a lab's table: gene, variation, disease, drugs, text."""
    from oncoclass.data.civic import read_evidence

    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["gene", "variation", "disease", "drugs", "text", "sample"])
        n = 0
        for ev in read_evidence(civic):
            if n == rows:
                break
            if ev.gene and ev.variation and ev.evidence_statement:
                therapies = "; ".join(ev.therapies)
                writer.writerow(
                    [ev.gene, ev.variation, ev.disease, therapies, ev.evidence_statement, f"S{n}"]
                )
                n += 1
    return Input("text table", out, n)


# ---- one run (the child) -------------------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    """What ``oncoclass annotate`` does, with the time of each stage on stdout (JSON)."""
    start = time.perf_counter()
    from oncoclass.annotate import LocalScorer, annotate_file, write_reports
    from oncoclass.knowledge import KnowledgeBase
    from oncoclass.service import OncoClassService, load_predictor
    from oncoclass.settings import Settings, configure_runtime

    settings = Settings(data_home=args.data_home, model_dir=args.model_dir)
    configure_runtime(settings)
    predictor = load_predictor(settings, settings.default_model_dir)
    service = OncoClassService(
        settings, knowledge=KnowledgeBase.from_data_home(settings.data_home), predictor=predictor
    )
    loaded = time.perf_counter()
    stamps: dict[str, list[float]] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        stamps.setdefault(stage, [now, now])[1] = now

    if args.engine == "ray":
        from oncoclass.annotate.ray_engine import RayScorer

        scorer: Any = RayScorer(workers=args.workers)
    else:
        scorer = LocalScorer()
    with annotate_file(
        service, args.input, store=False, scorer=scorer, progress=progress
    ) as annotation:
        write_reports(annotation, args.out, "bench")
        done = time.perf_counter()
        rows, variants = annotation.summary.rows, annotation.summary.variants
    read_end = stamps["read"][1]
    score_end = stamps.get("score", [read_end, read_end])[1]
    result = {
        "rows": rows,
        "variants": variants,
        "load_s": loaded - start,
        "read_s": read_end - loaded,
        "score_s": score_end - read_end,
        "lookup_write_s": done - score_end,
    }
    print(json.dumps(result))


# ---- measuring -----------------------------------------------------------------------------------
def tree_rss_mib(root: int) -> float:
    """Sum of the RSS of ``root`` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid and p not in family]
        family.update(children)
        frontier.extend(children)
    total_kib = 0
    for pid in family:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


def run_one(inp: Input, engine: str, args: argparse.Namespace, work: Path) -> Run:
    kind, workers = ENGINES[engine]
    out = work / f"out-{engine}"
    command = [
        sys.executable, "-m", "benchmarks.scaling", "child", "--input", str(inp.path),
        "--engine", kind, "--workers", str(max(workers, 1)), "--model-dir", str(args.model_dir),
        "--data-home", str(args.data_home), "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    log = work / f"{engine}.log"  # stderr to a file: a full pipe would block the child
    started = time.perf_counter()
    with log.open("wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env)
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_EVERY_S):
            peak[0] = max(peak[0], tree_rss_mib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout_data = process.stdout.read() if process.stdout else b""
    # wait4: this child's own resource usage, its peak RSS among it (not its descendants').
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    result = json.loads(stdout_data.decode().strip().splitlines()[-1])
    driver = usage.ru_maxrss / 1024  # KiB on Linux
    return Run(
        input=inp.kind,
        rows=result["rows"],
        variants=result["variants"],
        engine=engine,
        wall_s=wall,
        rows_per_s=result["rows"] / wall,
        load_s=result["load_s"],
        read_s=result["read_s"],
        score_s=result["score_s"],
        lookup_write_s=result["lookup_write_s"],
        driver_peak_mib=driver,
        tree_peak_mib=max(peak[0], driver),
    )


# ---- reporting -----------------------------------------------------------------------------------
COLUMNS: list[tuple[str, str, Callable[[Run], str]]] = [
    ("input", "input", lambda r: r.input),
    ("rows", "rows", lambda r: f"{r.rows:,}"),
    ("variants", "distinct variants", lambda r: f"{r.variants:,}"),
    ("engine", "engine", lambda r: r.engine),
    ("wall", "wall s", lambda r: f"{r.wall_s:.1f}"),
    ("rps", "rows/s", lambda r: f"{r.rows_per_s:,.0f}"),
    ("load", "start s", lambda r: f"{r.load_s:.1f}"),
    ("read", "read s", lambda r: f"{r.read_s:.1f}"),
    ("score", "score s", lambda r: f"{r.score_s:.1f}"),
    ("rest", "CIViC + write s", lambda r: f"{r.lookup_write_s:.1f}"),
    ("driver", "driver peak MiB", lambda r: f"{r.driver_peak_mib:,.0f}"),
    ("tree", "all processes peak MiB", lambda r: f"{r.tree_peak_mib:,.0f}"),
]


def table(runs: Sequence[Run]) -> Table:
    out = Table(*(title for _, title, _ in COLUMNS), title="oncoclass annotate: scaling")
    for run in runs:
        out.add_row(*(cell(run) for _, _, cell in COLUMNS))
    return out


def markdown(runs: Sequence[Run]) -> str:
    head = "| " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" if i < 4 else "---:" for i in range(len(COLUMNS))) + "|"
    body = ["| " + " | ".join(cell(run) for _, _, cell in COLUMNS) + " |" for run in runs]
    return "\n".join([head, rule, *body]) + "\n"


def machine() -> dict[str, Any]:
    """The machine and the code measured (commit, dirty flags, model-code hash)."""
    from benchmarks.harness import machine_info

    return {**machine_info(), "load_average": os.getloadavg()}


# ---- main ----------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("child", help="one run (internal)")
    one.add_argument("--input", type=Path, required=True)
    one.add_argument("--engine", choices=("local", "ray"), required=True)
    one.add_argument("--workers", type=int, default=1)
    one.add_argument("--model-dir", type=Path, required=True)
    one.add_argument("--data-home", type=Path, required=True)
    one.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, default=None, help="Trained model directory.")
    parser.add_argument("--civic", type=Path, default=SHARED_DATA / CIVIC, help="CIViC release.")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--inputs", default="maf,vcf,text", help="Some of: maf, vcf, text.")
    parser.add_argument("--text-rows", type=int, default=1_000)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--markdown", type=Path, default=None, help="Also write the table here.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.command == "child":
        child(args)
        return
    from oncoclass.data import fetch_civic
    from oncoclass.settings import get_settings

    args.model_dir = args.model_dir or get_settings().default_model_dir
    sizes = [int(s) for s in args.sizes.split(",") if s]
    engines = [e for e in args.engines.split(",") if e]
    kinds = {k.strip() for k in args.inputs.split(",")}
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="oncoclass-scaling-") as tmp:
        work = Path(tmp)
        args.data_home = work / "home"
        fetch_civic(args.data_home, from_path=args.civic, progress=False)
        inputs: list[Input] = []
        for n in sizes:
            if "maf" in kinds:
                inputs.append(build_maf(SHARED_DATA / MAF, work / f"cohort-{n}.maf", n))
            if "vcf" in kinds:
                inputs.append(build_vcf(SHARED_DATA / VCF, work / f"cohort-{n}.vcf", n))
        if "text" in kinds:
            inputs.append(build_text_table(args.civic, work / "texts.csv", args.text_rows))
        for inp in inputs:
            for engine in engines:
                console.print(f"{inp.kind} {inp.rows:,} rows, {engine} ...")
                run = run_one(inp, engine, args, work)
                runs.append(run)
                console.print(
                    f"  {run.wall_s:.1f} s, {run.rows_per_s:,.0f} rows/s, "
                    f"peak {run.driver_peak_mib:,.0f} / {run.tree_peak_mib:,.0f} MiB"
                )
    Console().print(table(runs))
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": " ".join(["python -m benchmarks.scaling", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "runs": [asdict(r) for r in runs],
    }
    (args.out / "scaling.json").write_text(json.dumps(payload, indent=1))
    if args.markdown is not None:
        args.markdown.write_text(markdown(runs))


if __name__ == "__main__":
    main()
