"""One readable Trainer for every neural model.

The model contract (shared by all networks, like PyHealth's): ``forward(batch)`` takes a dict of
tensors and returns ``{"logits", "y_prob"}`` plus ``"loss"`` when the batch holds ``"label"``.
The Trainer runs Adam with mini-batches, evaluates the *unweighted* validation log loss after
each epoch, keeps the best weights (early stopping with patience) and, given a directory, writes
``best.pt`` and ``last.pt`` there.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

Arrays = dict[str, np.ndarray]

#: Keys whose trailing zero padding is trimmed per batch (variable-length token ids).
SEQUENCE_KEYS = ("tokens",)


@dataclass
class TrainerConfig:
    lr: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 15
    patience: int = 3
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    seed: int = 13
    #: The narrowest a token batch may be (the widest convolution kernel).
    min_seq_len: int = 5


def iter_batches(
    data: Arrays,
    batch_size: int,
    *,
    shuffle: bool = False,
    rng: np.random.Generator | None = None,
    min_seq_len: int = 1,
) -> Iterator[dict[str, torch.Tensor]]:
    """Mini-batches of tensors; token ids are cut to the longest sequence in the batch."""
    n = len(next(iter(data.values())))
    order = rng.permutation(n) if shuffle and rng is not None else np.arange(n)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if shuffle and rng is not None and "tokens" in data:
        # Bucket by length: sort shuffled chunks of 50 batches by sequence length, so each
        # batch pads little (texts range from 10 to 400 tokens), then shuffle the batches.
        lengths = (data["tokens"] != 0).sum(axis=1)
        chunk = batch_size * 50
        batches = []
        for i in range(0, n, chunk):
            part = order[i : i + chunk]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
        batches = [batches[i] for i in rng.permutation(len(batches))]
    for idx in batches:
        batch = {}
        for key, arr in data.items():
            part = arr[idx]
            if key in SEQUENCE_KEYS:
                width = max(int((part != 0).sum(axis=1).max(initial=0)), min_seq_len)
                part = part[:, :width]
            batch[key] = torch.from_numpy(np.ascontiguousarray(part))
        yield batch


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )


@dataclass
class Trainer:
    model: torch.nn.Module
    config: TrainerConfig = field(default_factory=TrainerConfig)
    checkpoint_dir: Path | None = None
    progress: bool = True
    history_: list[dict[str, float]] = field(default_factory=list)
    best_epoch_: int = -1
    best_valid_loss_: float = float("inf")

    def fit(self, train: Arrays, valid: Arrays | None = None) -> Trainer:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        best_state = copy.deepcopy(self.model.state_dict())
        stale = 0
        n_batches = -(-len(train["label"]) // cfg.batch_size)
        with _progress(self.progress) as bar:
            task = bar.add_task("training", total=cfg.max_epochs * n_batches, info="")
            for epoch in range(cfg.max_epochs):
                self.model.train()
                total, seen = 0.0, 0
                for batch in iter_batches(
                    train, cfg.batch_size, shuffle=True, rng=rng, min_seq_len=cfg.min_seq_len
                ):
                    opt.zero_grad()
                    loss = self.model(batch)["loss"]
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                    opt.step()
                    total += loss.item() * len(batch["label"])
                    seen += len(batch["label"])
                    bar.advance(task)
                record = {"epoch": epoch + 1, "train_loss": total / max(seen, 1)}
                if valid is not None:
                    record["valid_loss"] = self.log_loss(valid)
                self.history_.append(record)
                bar.update(
                    task, info=" ".join(f"{k}={v:.3f}" for k, v in record.items() if k != "epoch")
                )
                # Without validation data the last epoch is the best one.
                score = record.get("valid_loss", -epoch)
                if score < self.best_valid_loss_:
                    self.best_valid_loss_, self.best_epoch_, stale = score, epoch + 1, 0
                    best_state = copy.deepcopy(self.model.state_dict())
                    self._save("best.pt")
                else:
                    stale += 1
                self._save("last.pt")
                if valid is not None and stale >= cfg.patience:
                    bar.update(task, completed=cfg.max_epochs * n_batches)
                    break
        self.model.load_state_dict(best_state)
        return self

    @torch.no_grad()
    def predict_logits(self, data: Arrays, batch_size: int = 256) -> np.ndarray:
        if self.model.training:  # eval() walks every module: ~0.1 ms a call, per request
            self.model.eval()
        out = [
            self.model(b)["logits"].numpy()
            for b in iter_batches(data, batch_size, min_seq_len=self.config.min_seq_len)
        ]
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def log_loss(self, data: Arrays) -> float:
        logits = torch.from_numpy(self.predict_logits(data))
        return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(data["label"])))

    def _save(self, name: str) -> None:
        if self.checkpoint_dir is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            torch.save(self.model.state_dict(), self.checkpoint_dir / name)
