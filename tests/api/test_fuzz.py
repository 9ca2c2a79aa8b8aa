"""Schemathesis fuzzes every operation of the published OpenAPI schema against the real
service (the shipped model, the real knowledge base, a real uvicorn on loopback): no input,
however odd, makes it answer 5xx, and every status it answers is one the schema documents.

Run through schemathesis's command line (its pytest plugin does not support pytest 9), with a
fixed seed so that a failure is reproducible: the command is in the assertion message."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from oncoclass.api.app import create_app
from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from oncoclass.settings import Settings
from tests.helpers import serve

#: Examples per operation and phase: enough to reach every branch of validation quickly.
EXAMPLES = 25
SEED = 13
CHECKS = "not_a_server_error,status_code_conformance"


@pytest.fixture(scope="module")
def fuzzed_base(
    tmp_path_factory: pytest.TempPathFactory,
    model_dir: Path,
    predictor: Predictor,
    knowledge: KnowledgeBase,
) -> Iterator[str]:
    home = tmp_path_factory.mktemp("fuzz")
    settings = Settings(
        data_home=home, model_dir=model_dir, database_url=f"sqlite:///{home / 'h.sqlite3'}",
        max_text_chars=5_000, max_batch_rows=50, model_poll_seconds=0,
        rate_limit_per_minute=10**6,
    )  # fmt: skip
    with serve(create_app(settings, predictor, knowledge=knowledge)) as base:
        yield base


def test_no_operation_answers_5xx_or_an_undocumented_status(fuzzed_base: str) -> None:
    command = [
        str(Path(sys.executable).with_name("st")), "run", f"{fuzzed_base}/openapi.json",
        "--checks", CHECKS, "--max-examples", str(EXAMPLES), "--seed", str(SEED),
        "--workers", "1", "--no-color",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)}\n{report[-6000:]}"
    # Every operation was exercised, with many cases.
    generated = re.search(r"(\d+) generated", report)
    assert generated and int(generated.group(1)) >= 200, report[-2000:]
    print(f"schemathesis: {generated.group(0)}")  # shown with pytest -s (docs/benchmarks.md)
