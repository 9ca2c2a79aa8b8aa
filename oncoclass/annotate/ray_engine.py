"""Scoring a cohort on Ray: Ray Data ``map_batches`` over an actor pool, one Predictor per actor.

The engine has already read the file and kept each distinct input once (memory holds their
keys; their texts wait in the spool), so what goes to Ray is the distinct inputs, cut into the
local engine's chunks (one model call each, see :mod:`oncoclass.annotate.scoring`), in windows
of at most ``window`` inputs (and ``window_chars`` characters of text): each window is one Ray
Dataset of chunks (``from_items``, so a remote cluster needs no shared file system) that the
actors score one chunk per call. The driver's memory is bounded by one window whatever the
file's size, and Ray's object store by a window too.

Each actor loads the model the driver loaded (``Predictor.path``) once, with the driver's text
limit and margin, and one intra-op thread (as the service runs: one thread per worker scales
better than several fighting over cores). It makes the local engine's model calls, so its
answers are the local engine's, bit for bit. Predictions come back pickled (this package's own
dataclasses, made by the same code on both sides), and the driver does the rest: CIViC, the
history, the report.

Without an address an embedded local Ray is started with ``workers`` CPUs and shut down at the
end; with one (``ray://host:10001``, ``auto``) the cluster is joined, and left running. Every
machine of a cluster needs OncoClass installed and the model directory at the same path.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from oncoclass.annotate.inputs import VariantSeed
from oncoclass.annotate.scoring import DEFAULT_CHUNK, chunked, score_seeds
from oncoclass.errors import InvalidInputError
from oncoclass.predictor import Prediction, Predictor

#: Distinct inputs (and characters of their texts) sent to Ray at a time.
DEFAULT_WINDOW = 20_000
DEFAULT_WINDOW_CHARS = 50_000_000
#: Object store of an embedded Ray: the windows are small, the default (30% of RAM) is not.
EMBEDDED_OBJECT_STORE_BYTES = 256 * 2**20

log = logging.getLogger(__name__)


class ScoreActor:
    """A Ray Data actor: loads the model once, scores chunks of serialized inputs (one model
    call per chunk, as the local engine makes it)."""

    def __init__(
        self, model_dir: str, max_text_chars: int, min_margin: float, explain: bool
    ) -> None:
        import torch

        torch.set_num_threads(1)
        self.predictor = Predictor.load(
            Path(model_dir), max_text_chars=max_text_chars, min_margin=min_margin
        )
        self.explain = explain

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        indices: list[list[int]] = []
        blobs: list[bytes] = []
        for doc in batch["chunk"]:
            seeds = [VariantSeed.from_json(seed) for seed in json.loads(str(doc))]
            predictions = score_seeds(self.predictor, seeds, explain=self.explain)
            indices.append([s.index for s in seeds])
            blobs.append(pickle.dumps(predictions, protocol=pickle.HIGHEST_PROTOCOL))
        return {"indices": indices, "predictions": blobs}


class RayScorer:
    """Scores on Ray (see the module docstring). ``address``: a cluster to join (None: an
    embedded local Ray with ``workers`` CPUs); ``workers``: actors, one Predictor each;
    ``chunk``: inputs per model call (keep the local engine's to get its answers bit for bit);
    ``window``: inputs per Dataset (rounded down to whole chunks)."""

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        workers: int = 2,
        chunk: int = DEFAULT_CHUNK,
        window: int = DEFAULT_WINDOW,
        window_chars: int = DEFAULT_WINDOW_CHARS,
        object_store_bytes: int = EMBEDDED_OBJECT_STORE_BYTES,
    ) -> None:
        if workers < 1:
            raise InvalidInputError("workers must be at least 1", field="workers")
        self.address = address
        self.workers = workers
        self.chunk = max(1, chunk)
        # Whole chunks per window, so that the chunks are the local engine's.
        self.window = max(1, window // self.chunk) * self.chunk
        self.window_chars = max(1, window_chars)
        self.object_store_bytes = object_store_bytes

    def score(
        self,
        predictor: Predictor,
        seeds: Iterable[VariantSeed],
        *,
        total: int,
        explain: bool = False,
    ) -> Iterator[tuple[VariantSeed, Prediction]]:
        if total == 0:
            return
        if predictor.path is None:
            raise InvalidInputError(
                "the Ray engine needs a model loaded from a directory (each actor loads it)",
                field="model_dir",
            )
        ray = _import_ray()
        started = self._connect(ray)
        try:
            actor_args = {
                "model_dir": str(predictor.path),
                "max_text_chars": predictor.max_text_chars,
                "min_margin": predictor.min_margin,
                "explain": explain,
            }
            for window in self._windows(seeds):
                yield from self._score_window(ray, window, actor_args)
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Join the cluster, or start an embedded Ray; True when this call started one."""
        if ray.is_initialized():
            return False
        quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address:
            ray.init(address=self.address, **quiet)
            return True  # our connection to it: disconnecting leaves the cluster running
        ray.init(
            num_cpus=self.workers,
            include_dashboard=False,
            object_store_memory=self.object_store_bytes,
            **quiet,
        )
        return True

    def _windows(self, seeds: Iterable[VariantSeed]) -> Iterator[list[list[VariantSeed]]]:
        """The chunks of the inputs (the local engine's), grouped in windows."""
        window: list[list[VariantSeed]] = []
        size = chars = 0
        for chunk in chunked(seeds, self.chunk):
            window.append(chunk)
            size += len(chunk)
            chars += sum(len(seed.text) for seed in chunk)
            if size >= self.window or chars >= self.window_chars:
                yield window
                window, size, chars = [], 0, 0
        if window:
            yield window

    def _score_window(
        self, ray: Any, window: list[list[VariantSeed]], actor_args: dict[str, Any]
    ) -> Iterator[tuple[VariantSeed, Prediction]]:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the caller shows its own
        by_index = {seed.index: seed for chunk in window for seed in chunk}
        items = [{"chunk": json.dumps([seed.to_json() for seed in chunk])} for chunk in window]
        # Enough blocks for every actor to get work; one chunk per actor call.
        dataset = ray.data.from_items(
            items, override_num_blocks=min(len(items), self.workers * 4)
        ).map_batches(
            ScoreActor,
            fn_constructor_kwargs=actor_args,
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            batch_size=1,
            num_cpus=1,
        )
        for batch in dataset.iter_batches(batch_size=1, batch_format="numpy"):
            for indices, blob in zip(batch["indices"], batch["predictions"], strict=True):
                predictions = pickle.loads(blob)  # noqa: S301 (from our own actors)
                for index, prediction in zip(indices, predictions, strict=True):
                    yield by_index[int(index)], prediction


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray[data] is an optional dependency
        raise InvalidInputError(
            "the Ray engine needs Ray: pip install 'ray[data]'", field="engine"
        ) from exc
    for name in ("ray", "ray.data"):  # its INFO lines would drown the progress bar
        logging.getLogger(name).setLevel(logging.WARNING)
    return ray
