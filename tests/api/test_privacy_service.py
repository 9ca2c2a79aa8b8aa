"""Evidence texts may be clinical reports: planted identifiers never reach the history database
or the logs, whatever happens (a normal answer, a batch, a database failure)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from oncoclass.api.app import create_app
from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from oncoclass.privacy import Deidentifier, get_deidentifier, text_hash
from oncoclass.service import OncoClassService
from oncoclass.settings import Settings

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

#: Identifiers of a made-up patient, planted in a realistic report.
PLANTED = {
    "name": "Margaret Okonkwo",
    "mrn": "48291037",
    "dob": "03/14/1958",
    "ssn": "512-44-9076",
    "phone": "(617) 555-0142",
    "email": "m.okonkwo@example.org",
    "address": "1425 Oak Street, Springfield, IL 62704",
}
REPORT = (
    f"Patient: {PLANTED['name']}, MRN {PLANTED['mrn']}, DOB {PLANTED['dob']}, "
    f"SSN {PLANTED['ssn']}. Lives at {PLANTED['address']}; phone {PLANTED['phone']}, "
    f"e-mail {PLANTED['email']}. Her lung adenocarcinoma carries EGFR L858R and she "
    "responded to osimertinib with a partial response after two cycles."
)


def _everything_stored(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM predictions")).all()
    engine.dispose()
    return "\n".join(str(tuple(r)) for r in rows)


def _leaks(haystack: str) -> list[str]:
    return [k for k, v in PLANTED.items() if v in haystack]


@sqlite_only
def test_identifiers_never_reach_the_database_or_the_logs(
    client: TestClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"gene": "EGFR", "variation": "L858R", "text": REPORT, "disease": "Lung Cancer"}
    answer = client.post("/v1/predict", json=body)
    assert answer.status_code == 200
    batch = client.post("/v1/predict/batch", json={"items": [body, {**body, "gene": "KRAS"}]})
    assert batch.status_code == 200
    stored = _everything_stored(settings.resolved_database_url)
    assert stored and _leaks(stored) == []
    assert _leaks(caplog.text) == []
    # What is stored (and answered) is the de-identified text, still useful to a reader ...
    shown = answer.json()["text"]
    assert "[NAME]" in shown and "EGFR L858R" in shown and "osimertinib" in shown
    for span in answer.json()["evidence"]:
        assert shown[span["start"] : span["end"]] == span["text"]
    assert _leaks(str(client.get(f"/v1/predictions/{answer.json()['id']}").json())) == []
    # ... with a keyed hash of the text as it was received.
    assert text_hash(REPORT, settings.hash_key()) in stored
    assert text_hash(REPORT) not in stored


@sqlite_only
def test_no_text_mode_keeps_only_the_hash(
    tmp_path: Path, model_dir: Path, database_url: str, predictor: Predictor,
    knowledge: KnowledgeBase,
) -> None:  # fmt: skip
    settings = Settings(
        data_home=tmp_path / "home", model_dir=model_dir, database_url=database_url,
        store_text="none",
    )  # fmt: skip
    with TestClient(create_app(settings, predictor, knowledge=knowledge)) as client:
        answer = client.post("/v1/predict", json={"gene": "EGFR", "variation": "L858R",
                                                  "text": REPORT})  # fmt: skip
        assert answer.status_code == 200 and answer.json()["text"] == ""
        assert all(span["text"] == "" for span in answer.json()["evidence"])
    stored = _everything_stored(settings.resolved_database_url)
    assert "osimertinib" not in stored and _leaks(stored) == []
    assert text_hash(REPORT, settings.hash_key()) in stored


@sqlite_only
def test_a_failing_database_logs_no_text(
    client: TestClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    engine = create_engine(settings.resolved_database_url)
    with engine.begin() as connection:  # the history table disappears under the service
        connection.execute(text("DROP TABLE predictions"))
    engine.dispose()
    answer = client.post("/v1/predict", json={"gene": "EGFR", "variation": "L858R",
                                              "text": REPORT})  # fmt: skip
    assert answer.status_code == 503
    assert "database" in caplog.text  # the failure is logged ...
    assert _leaks(caplog.text) == [] and "osimertinib" not in caplog.text  # ... not the text
    assert _leaks(answer.text) == []


@sqlite_only
def test_a_long_report_scrubbed_by_the_helper_process_never_reaches_the_database(
    tmp_path: Path, model_dir: Path, database_url: str, predictor: Predictor,
    knowledge: KnowledgeBase,
) -> None:  # fmt: skip
    # Long texts are de-identified in a helper process while the model reads them, started
    # with the service (the first paper finds it ready): the placeholders of the request's
    # own thread, nothing planted stored, the evidence offsets into the scrubbed text.
    import time

    settings = Settings(
        data_home=tmp_path / "home", model_dir=model_dir, database_url=database_url,
        scrub_helper_chars=1_000,
    )  # fmt: skip
    long_report = REPORT + " The tumour kept responding at every later scan." * 30
    body = {"gene": "EGFR", "variation": "L858R", "text": long_report}
    with TestClient(create_app(settings, predictor, knowledge=knowledge)) as client:
        service = client.app.state.api.service  # type: ignore[attr-defined]
        deadline = time.monotonic() + 120
        while not service._scrubber.ready:  # before any text was sent
            assert time.monotonic() < deadline, "the helper process did not start"
            time.sleep(0.2)
        answer = client.post("/v1/predict", json=body)
        # A batch hands all its texts, short ones too, to the helper while the model scores
        # them: none is scrubbed in this process.
        items = [
            {"gene": "EGFR", "variation": "L858R", "text": REPORT},
            {"gene": "KRAS", "variation": "G12C", "text": f"Seen by Dr {PLANTED['name']}."},
            {"gene": "BRAF", "variation": "V600E"},
        ]
        in_process = []
        scrub = Deidentifier.scrub

        def counted(self: Deidentifier, text: str) -> object:
            in_process.append(text)
            return scrub(self, text)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Deidentifier, "scrub", counted)
            batch = client.post("/v1/predict/batch", json={"items": items})
    assert batch.status_code == 200 and in_process == []
    for item, variant in zip(items, batch.json()["variants"], strict=True):
        expected = get_deidentifier().scrub(item.get("text", "")).text
        assert variant["prediction"]["text"] == expected
    assert answer.status_code == 200
    helped = answer.json()
    assert helped["text"] == get_deidentifier().scrub(long_report).text
    assert "[NAME]" in helped["text"] and helped["evidence"]
    for span in helped["evidence"]:
        assert helped["text"][span["start"] : span["end"]] == span["text"]
    stored = _everything_stored(settings.resolved_database_url)
    assert _leaks(stored) == [] and stored.count("[NAME]") >= 1


def test_no_helper_process_when_no_text_can_be_long_enough(
    settings: Settings, predictor: Predictor, knowledge: KnowledgeBase
) -> None:
    # The API tests' settings accept texts of 5,000 characters at most: a helper for texts
    # of 20,000 and more would be a process started for nothing.
    assert settings.max_text_chars < settings.scrub_helper_chars
    service = OncoClassService.start(settings, predictor=predictor, knowledge=knowledge)
    try:
        assert service._scrubber.min_chars == 0 and service._scrubber._pool is None
    finally:
        service.close()
