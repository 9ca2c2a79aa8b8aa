"""The one OncoClass service: the Predictor, the knowledge base and the history behind every
front end (the HTTP API's thin routers, the CLI, the page, batch files).

Every answer leaves here in the public schema (:mod:`oncoclass.schemas`), so the API's JSON,
``oncoclass predict --json`` and the files ``oncoclass annotate`` writes are the same thing.
The service validates input, scores, looks the variant up in CIViC and stores the answer; it
raises typed errors (:mod:`oncoclass.errors`), which only the API turns into status codes.

The model can be swapped while requests are in flight (:meth:`OncoClassService.reload`): each
call takes the current Predictor once, at its start, and finishes on it.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from oncoclass.data.records import Sample
from oncoclass.data.tasks import get_task
from oncoclass.errors import (
    InvalidInputError,
    ModelUnavailableError,
    NotFoundError,
    OncoClassError,
)
from oncoclass.history import Database, PredictionRecord, PredictionRepository
from oncoclass.history.models import utcnow
from oncoclass.knowledge import KnowledgeBase, KnowledgeMatch
from oncoclass.models.store import resolve_model_dir
from oncoclass.predictor import Prediction, Predictor
from oncoclass.privacy import BackgroundScrubber, ScrubResult, get_deidentifier, text_hash
from oncoclass.schemas import (
    ClassPublic,
    LimitsPublic,
    ModelPublic,
    ModelRef,
    PredictionCreate,
    PredictionList,
    PredictionPublic,
    TrainingPublic,
    prediction_outputs,
)
from oncoclass.settings import Settings

log = logging.getLogger(__name__)

#: CIViC items in an answer (every item is reachable through GET /v1/knowledge).
SINGLE_KNOWLEDGE_ITEMS = 50


class OncoClassService:
    """Build it with :meth:`start` (loads and checks everything) or directly (tests)."""

    def __init__(
        self,
        settings: Settings,
        *,
        knowledge: KnowledgeBase,
        database: Database | None = None,
        predictor: Predictor | None = None,
        model_error: str | None = None,
    ) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.database = database
        self._predictor = predictor
        self.model_error = model_error
        self._reload_lock = threading.Lock()
        # Only a long-running service with a history gains from a helper process (a one-shot
        # CLI call would wait for it to start, and then to stop).
        # Nor one whose texts can never be long enough for it.
        helper = (
            database is not None
            and settings.store_text == "scrubbed"
            and settings.max_text_chars >= settings.scrub_helper_chars
        )
        self._scrubber = BackgroundScrubber(settings.scrub_helper_chars if helper else 0)

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        predictor: Predictor | None = None,
        knowledge: KnowledgeBase | None = None,
        history: bool = True,
    ) -> OncoClassService:
        """Migrate the history database (a failure stops the start: no history, no service),
        then load the model and warm it up, and index the knowledge base (their absence
        only degrades the service, and says why)."""
        database = None
        if history:
            database = Database(settings.resolved_database_url)
            database.migrate()
        model_error = None
        if predictor is None:
            try:
                predictor = load_predictor(settings, settings.default_model_dir)
            except (OncoClassError, OSError) as exc:
                model_error = str(exc)
                log.warning("serving without a model: %s", exc)
        if predictor is not None:
            warm_up(predictor)
        if history and settings.store_text == "scrubbed":
            get_deidentifier()  # built (~0.5 s) before the first request, not during it
        if knowledge is None:
            knowledge = KnowledgeBase.from_data_home(settings.data_home)
        service = cls(
            settings,
            knowledge=knowledge,
            database=database,
            predictor=predictor,
            model_error=model_error,
        )
        # Started now, in the background: started by the first long paper instead, it would
        # miss that paper and the next ones for its few seconds of start-up, each scrubbed in
        # the request's thread after the model (~70 ms more for 100k characters).
        service._scrubber.start()
        return service

    def close(self) -> None:
        """Stop the de-identification helper and release the database's connections."""
        self._scrubber.close()
        if self.database is not None:
            self.database.dispose()

    @property
    def knowledge_release(self) -> str | None:
        release = self.knowledge.release
        return release.name if release is not None else None

    # ---- the model ------------------------------------------------------------------------------
    @property
    def predictor(self) -> Predictor:
        predictor = self._predictor
        if predictor is None:
            raise ModelUnavailableError(f"no model is loaded: {self.model_error}")
        return predictor

    @property
    def has_model(self) -> bool:
        return self._predictor is not None

    def reload(self, model_dir: Path | None = None) -> ModelRef:
        """Load a model (default: the configured one, i.e. its ``current`` version), warm it
        up, then switch to it in one step. Requests in flight finish on the model they
        started with; a model that fails to load changes nothing (the error is raised)."""
        with self._reload_lock:
            predictor = load_predictor(self.settings, model_dir or self.settings.default_model_dir)
            warm_up(predictor)
            self._predictor, self.model_error = predictor, None
        log.info(
            "now serving %s %s from %s",
            predictor.model_name,
            predictor.model_version,
            predictor.path,
        )
        return self.model_ref(predictor)

    def model_ref(self, predictor: Predictor | None = None) -> ModelRef:
        predictor = predictor or self.predictor
        return ModelRef(
            name=predictor.model_name,
            version=predictor.model_version,
            knowledge_release=self.knowledge_release,
            trained_on=predictor.card["training"].get("data_release"),
        )

    def reload_if_moved(self) -> ModelRef | None:
        """Switch to the configured model's ``current`` version if it moved since it was
        loaded (a new ``oncoclass train``); None when it did not (or cannot be read)."""
        try:
            target = resolve_model_dir(self.settings.default_model_dir)
        except OncoClassError:
            return None
        loaded = self._predictor.path if self._predictor is not None else None
        if loaded == target:
            return None
        try:
            return self.reload(target)
        except (OncoClassError, OSError) as exc:
            log.error("model %s not switched to: %s", target, exc)
            return None

    def watch(self, stop: threading.Event) -> threading.Thread | None:
        """Poll for a new ``current`` model version every ``Settings.model_poll_seconds``
        (0: never) in a daemon thread, until ``stop`` is set."""
        interval = self.settings.model_poll_seconds
        if interval <= 0:
            return None

        def loop() -> None:
            while not stop.wait(interval):
                self.reload_if_moved()

        thread = threading.Thread(target=loop, name="oncoclass-model-watch", daemon=True)
        thread.start()
        return thread

    def model_card(self, task: str | None = None) -> ModelPublic:
        predictor = self.predictor
        if task is not None and task != predictor.task.name:
            get_task(task)  # an unknown task is a bad request, a known one merely absent
            raise NotFoundError(
                f"no model for task {task!r} is loaded (it serves {predictor.task.name!r})"
            )
        card = predictor.card
        return ModelPublic(
            name=predictor.model_name,
            version=predictor.model_version,
            package_version=card.get("package_version", ""),
            task=predictor.task.name,
            task_description=predictor.task.description,
            classes=[ClassPublic(label=c.label, name=c.name) for c in predictor.classes],
            training=TrainingPublic.model_validate(card.get("training", {})),
            metrics=card.get("metrics") or {},
            config=card.get("config") or {},
            limits=LimitsPublic(
                max_text_chars=predictor.max_text_chars,
                max_batch_rows=self.settings.max_batch_rows,
                min_margin=predictor.min_margin,
                set_coverage=predictor.coverage,
            ),
        )

    # ---- predictions ----------------------------------------------------------------------------
    def predict(self, request: PredictionCreate, *, store: bool = True) -> PredictionPublic:
        """One variant, explained, looked up in CIViC, and stored (unless ``store`` is off)."""
        predictor = self.predictor
        check_task(request.task, predictor)
        sample = predictor.make_sample(
            request.gene, request.variation, request.text, request.disease, request.drugs
        )
        # A long text is de-identified on the other core while the model reads it.
        scrubbed = self._scrubber.submit(sample.text) if sample.text else None
        prediction = predictor.predict_samples([sample], explain=True)[0]
        record = self._record(predictor, prediction, sample, source="predict", scrubbed=scrubbed)
        if store:
            record = self._store([record])[0]
        return PredictionPublic.from_record(record, self.lookup(sample))

    def scrub_later(self, texts: Sequence[str]) -> list[Callable[[], ScrubResult]] | None:
        """The de-identification of a batch's texts, started now (on the helper process when
        the service has one: on the other core while the model scores them); each function
        gives its text's result, for ``_record``. None when texts are not kept."""
        if self.settings.store_text != "scrubbed":
            return None
        return self._scrubber.submit_many(texts)

    def lookup(self, sample: Sample, limit: int = SINGLE_KNOWLEDGE_ITEMS) -> KnowledgeMatch:
        """What CIViC says about the sample's variant, ranked for its disease and drugs."""
        return self.knowledge.lookup(
            sample.gene,
            sample.variation,
            limit=limit,
            disease=sample.disease,
            therapies=sample.drugs,
        )

    # ---- history --------------------------------------------------------------------------------
    def list_predictions(
        self, *, limit: int = 50, offset: int = 0, gene: str | None = None
    ) -> PredictionList:
        with self._repository() as repository:
            records, total = repository.list(limit=limit, offset=offset, gene=gene)
        return PredictionList(
            items=[PredictionPublic.from_record(r) for r in records],
            total=total,
            limit=limit,
            offset=offset,
        )

    def get_prediction(self, prediction_id: int) -> PredictionPublic:
        """The stored prediction, with the CIViC evidence looked up again (the knowledge base
        may be newer than the prediction)."""
        with self._repository() as repository:
            record = repository.get(prediction_id)
        if record is None:
            raise NotFoundError(f"no prediction with id {prediction_id}")
        sample = Sample(
            id=str(record.id),
            gene=record.gene,
            variation=record.variation,
            disease=record.disease,
            drugs=tuple(record.drugs or ()),
        )
        return PredictionPublic.from_record(record, self.lookup(sample))

    # ---- internals ------------------------------------------------------------------------------
    def _record(
        self,
        predictor: Predictor,
        prediction: Prediction,
        sample: Sample,
        *,
        source: str,
        batch_id: str | None = None,
        row: int | None = None,
        sample_name: str | None = None,
        scrubbed: Callable[[], ScrubResult] | None = None,
    ) -> PredictionRecord:
        """The history row of a prediction, as it may be stored: the evidence text (and the
        sentences quoted as evidence) de-identified, or left out (``Settings.store_text``),
        with a keyed hash of the text as received (``scrubbed``: the de-identified text,
        when it was started earlier)."""
        outputs = prediction_outputs(
            prediction, predictor.task.group_title, predictor.card["training"].get("data_release")
        )
        text, outputs["evidence"] = self._protect(sample.text, outputs["evidence"], scrubbed)
        return PredictionRecord(
            created_at=utcnow(),
            source=source,
            batch_id=batch_id,
            row=row,
            sample=sample_name or None,
            gene=sample.gene,
            variation=sample.variation,
            disease=sample.disease,
            drugs=list(sample.drugs),
            text=text,
            task=prediction.task,
            label=prediction.label,
            name=prediction.name,
            probability=prediction.probability,
            outputs=outputs,
            model_name=prediction.model_name,
            model_version=prediction.model_version,
            knowledge_release=self.knowledge_release,
            text_hash=text_hash(sample.text, self._hash_key) if sample.text else None,
        )

    def _protect(
        self,
        text: str,
        evidence: list[dict[str, Any]],
        scrubbed: Callable[[], ScrubResult] | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        """The text and evidence sentences as they may be stored (see ``_record``)."""
        if not text:
            return "", evidence
        if self.settings.store_text == "none":
            return "", [{**e, "text": "", "start": 0, "end": 0} for e in evidence]
        result = scrubbed() if scrubbed is not None else get_deidentifier().scrub(text)
        spans = []
        for e in evidence:
            start, end = result.position(e["start"]), result.position(e["end"])
            spans.append({**e, "start": start, "end": end, "text": result.text[start:end]})
        return result.text, spans

    @functools.cached_property
    def _hash_key(self) -> bytes:
        return self.settings.hash_key()

    def _store(self, records: list[PredictionRecord]) -> list[PredictionRecord]:
        if self.database is None or not records:
            return records
        with self._repository() as repository:
            return repository.add_all(records)

    def _repository(self) -> Any:
        if self.database is None:
            raise ModelUnavailableError("this service keeps no history")
        return _RepositoryScope(self.database)


class _RepositoryScope:
    """``with service._repository() as repo``: a session for the duration of one call."""

    def __init__(self, database: Database) -> None:
        self._context = database.session()

    def __enter__(self) -> PredictionRepository:
        return PredictionRepository(self._context.__enter__())

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)  # type: ignore[arg-type]


def load_predictor(settings: Settings, model_dir: Path) -> Predictor:
    return Predictor.load(
        model_dir, max_text_chars=settings.max_text_chars, min_margin=settings.min_margin
    )


def warm_up(predictor: Predictor) -> None:
    """One prediction with text, explained, before the service says it is ready: it loads the
    sentence encoder (when the model reads it) and fills every lazy cache, so the first real
    request is as fast as the others."""
    sample = predictor.make_sample(
        "BRAF", "V600E", "BRAF V600E melanoma responded to vemurafenib. It was well tolerated."
    )
    predictor.predict_samples([sample], explain=True)


def check_task(task: str | None, predictor: Predictor) -> None:
    """A requested task must exist (else UnknownTaskError) and be the loaded model's."""
    if task is None or task == predictor.task.name:
        return
    get_task(task)
    raise InvalidInputError(
        f"the loaded model predicts {predictor.task.name!r}, not {task!r}", field="task"
    )


__all__ = [
    "SINGLE_KNOWLEDGE_ITEMS",
    "KnowledgeMatch",
    "OncoClassService",
    "check_task",
    "load_predictor",
    "warm_up",
]
