"""The reference models every OncoClass figure is measured against, implemented honestly.

Each reference follows OncoClass's model contract (it *is* an ``oncoclass.models.Classifier``),
so the benchmark harness, the Predictor and the HTTP service treat it exactly like an OncoClass
model: ``fit(train, valid) -> self``, ``predict_proba(samples) -> (n, k)``, ``classes_``,
``save``/``load_model``. Two things differ on purpose, because that is how they were published:

* a reference has no use for a validation part, so it trains on ``train + valid`` (it sees
  every labelled sample an OncoClass model sees, the held-out part included);
* a reference is not calibrated: its probabilities are scored as the model gives them.

References (``name``):

``ref-prior``
    The class prior: every sample gets the training class frequencies (add-one smoothed).
``ref-peer``
    The classical peer: TF-IDF of the text (word 1-2 grams), TF-IDF of the gene, of the
    variation's characters, of the disease and of the drugs, and a logistic regression.
``ref-seed``
    The seed architecture as published, in PyTorch (see :class:`SeedNet` for our reading).
``ref-variants-lr``
    For variants-only data (MSKCC without texts): gene one-hot + variation character n-grams +
    logistic regression.

They are not in OncoClass's model registry by default (they are not OncoClass models);
:func:`register_references` adds them where a process has to load one from a directory
(the benchmark's training subprocess and its HTTP server).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import joblib
import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from torch import nn

from oncoclass.data.records import Sample
from oncoclass.models.base import REGISTRY, Classifier

PIPELINE_FILE = "reference.joblib"
STATE_FILE = "reference.json"
WEIGHTS_FILE = "reference.pt"
#: The log-score a class unseen in training gets (as OncoClass's baseline does): ~0 probability.
ABSENT_LOGIT = -30.0


class Reference(Classifier):
    """What the references share: training on train + valid, no calibration, no prediction
    sets and no novelty detector (those are OncoClass's, not the published models')."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["novelty"] = False
        super().__init__(**kwargs)

    def fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None = None) -> Self:
        # valid=None leaves the base class's calibrator unfitted, i.e. the identity.
        return super().fit([*train, *(valid or [])], None)

    def _load(self, directory: Path, card: dict[str, Any]) -> None:  # noqa: B027
        """``load_model`` restores what the base class knows; subclasses add their state."""

    def _spread(self, logp: np.ndarray, fitted_classes: np.ndarray) -> np.ndarray:
        """Columns of a scikit-learn estimator (which knows only the classes it saw) placed in
        ``classes_`` order; an unseen class gets :data:`ABSENT_LOGIT`."""
        out = np.full((len(logp), len(self.classes_)), ABSENT_LOGIT)
        out[:, fitted_classes] = logp
        return out


# ---- the class prior -------------------------------------------------------------------------
class PriorReference(Reference):
    name = "ref-prior"

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        counts = Counter(self.encode_labels(train).tolist())
        freq = np.array([counts.get(i, 0) + 1.0 for i in range(len(self.classes_))])
        self.log_prior_ = np.log(freq / freq.sum())

    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        return np.tile(self.log_prior_, (len(samples), 1))

    def _save(self, directory: Path) -> None:
        (directory / STATE_FILE).write_text(json.dumps({"log_prior": self.log_prior_.tolist()}))

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        super()._load(directory, card)
        self.log_prior_ = np.array(json.loads((directory / STATE_FILE).read_text())["log_prior"])


# ---- scikit-learn pipelines ----------------------------------------------------------------
class PipelineReference(Reference):
    """A scikit-learn pipeline over a DataFrame of the samples' fields."""

    def __init__(self, *, C: float = 4.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.C = C

    def _transformers(self) -> dict[str, tuple[Any, str | list[str]]]:
        """Column -> (transformer, what it reads)."""
        raise NotImplementedError

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        frame = sample_frame(train)
        # A field that is empty in every training sample (MSKCC has no disease, no drugs, and
        # often no text) has nothing to learn and would leave a vectorizer without a vocabulary.
        features = ColumnTransformer(
            [
                (column, transformer, source)
                for column, (transformer, source) in self._transformers().items()
                if frame[column].astype(bool).any()
            ]
        )
        clf = LogisticRegression(C=self.C, max_iter=3000, random_state=self.seed)
        self.pipeline_ = Pipeline([("features", features), ("clf", clf)])
        self.pipeline_.fit(frame, self.encode_labels(train))

    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        logp = self.pipeline_.predict_log_proba(sample_frame(samples))
        return self._spread(logp, self.pipeline_.classes_)

    def _save(self, directory: Path) -> None:
        joblib.dump(self.pipeline_, directory / PIPELINE_FILE)

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        super()._load(directory, card)
        self.pipeline_ = joblib.load(directory / PIPELINE_FILE)


def sample_frame(samples: Sequence[Sample]) -> pd.DataFrame:
    """The raw fields the classical references read, one row per sample."""
    return pd.DataFrame(
        {
            "text": [s.text for s in samples],
            "gene": [s.gene.strip().upper() for s in samples],
            "variation": [s.variation.strip() for s in samples],
            "disease": [s.disease for s in samples],
            # "|" never occurs in a drug name; the vectorizer's token pattern splits on it.
            "drugs": ["|".join(s.drugs) for s in samples],
        }
    )


class PeerReference(PipelineReference):
    """TF-IDF of text, gene, variation characters, disease and drugs + logistic regression."""

    name = "ref-peer"

    def _transformers(self) -> dict[str, tuple[Any, str | list[str]]]:
        return {
            "text": (TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), "text"),
            "gene": (TfidfVectorizer(lowercase=False, token_pattern=r"\S+"), "gene"),
            "variation": (
                TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
                "variation",
            ),
            "disease": (TfidfVectorizer(ngram_range=(1, 2)), "disease"),
            "drugs": (TfidfVectorizer(token_pattern=r"[^|]+"), "drugs"),
        }


class VariantsLRReference(PipelineReference):
    """Gene one-hot + variation character n-grams + logistic regression (variants only)."""

    name = "ref-variants-lr"

    def _transformers(self) -> dict[str, tuple[Any, str | list[str]]]:
        return {
            "gene": (OneHotEncoder(handle_unknown="ignore"), ["gene"]),
            "variation": (
                TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
                "variation",
            ),
        }


# ---- the seed architecture -------------------------------------------------------------------
_NON_ALNUM = re.compile(r"[^a-z0-9\s]")


def seed_tokens(text: str) -> list[str]:
    """The seed's text cleaning: lowercase, delete every character that is not a letter, a
    digit or a space, split on whitespace."""
    return _NON_ALNUM.sub("", text.lower()).split()


class SeedNet(nn.Module):
    """The seed's Keras network, read into PyTorch.

        tokens (B, 256) -> Embedding(V, 128) -> Conv1D(64, k=3) + ReLU -> global max-pool
                        -> Dense(64) + ReLU                                   -> (B, 64)
        [gene, variation] as floats (B, 2) -> Dense(32) + ReLU -> Dense(64) + ReLU -> (B, 64)
        concat (B, 128) -> Dense(64) + ReLU -> Dense(n_classes) (softmax in the loss)

    Our reading: Keras' ``Conv1D`` and ``Dense`` default to a *linear* activation, and a stack
    of linear layers collapses to one linear map; the seed's hidden layers are read as the usual
    Keras idiom ``activation="relu"`` with a softmax output. "max-pool" is read as global max
    pooling over the sequence (the text-CNN convention; ``MaxPooling1D`` + ``Flatten`` would make
    the Dense layer 127x wider). The padding index 0 has a trainable embedding row, as in Keras
    without ``mask_zero``. No dropout, no class weights.
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        emb_dim: int = 128,
        n_filters: int = 64,
        kernel: int = 3,
        hidden: int = 64,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.conv = nn.Conv1d(emb_dim, n_filters, kernel)
        self.text_dense = nn.Linear(n_filters, hidden)
        self.genomic = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, hidden), nn.ReLU())
        self.head = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def forward(self, tokens: torch.Tensor, genomic: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens).transpose(1, 2)  # (B, E, L)
        x = self.conv(x).relu().amax(dim=2)  # (B, F)
        text = self.text_dense(x).relu()  # (B, 64)
        fused = torch.cat([text, self.genomic(genomic)], 1)  # (B, 128)
        return self.head(fused)  # (B, n_classes) logits


class SeedReference(Reference):
    """The seed architecture as published: 15 epochs of Adam, batch 32, nothing else.

    Text: the top ``vocab_size`` words of the training texts get ids 1.., other words are
    dropped (Keras ``Tokenizer`` without an OOV token), and the first ``max_len`` ids are padded
    with 0 to exactly ``max_len``. Gene and variation are label-encoded on the training data
    (sorted, as scikit-learn's ``LabelEncoder``), 0 for a value not seen in training, and fed
    as raw floats, unscaled, as the seed did.
    """

    name = "ref-seed"

    def __init__(
        self,
        *,
        vocab_size: int = 10_000,
        max_len: int = 256,
        epochs: int = 15,
        batch_size: int = 32,
        lr: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        counts = Counter(t for s in train for t in seed_tokens(s.text))
        # Most frequent first; ties broken by first appearance, like Keras' Tokenizer.
        self.words_ = [w for w, _ in counts.most_common(self.vocab_size)]
        self.genes_ = sorted({s.gene for s in train})
        self.variations_ = sorted({s.variation for s in train})
        self._index_vocab()
        torch.manual_seed(self.seed)
        self.net_ = self._net()
        tokens, genomic = self._inputs(train)
        y = torch.from_numpy(self.encode_labels(train))
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        rng = np.random.default_rng(self.seed)
        self.net_.train()
        for _ in range(self.epochs):
            for idx in np.array_split(
                rng.permutation(len(y)), max(1, -(-len(y) // self.batch_size))
            ):
                opt.zero_grad()
                loss = nn.functional.cross_entropy(self.net_(tokens[idx], genomic[idx]), y[idx])
                loss.backward()
                opt.step()
        self.net_.eval()

    def _net(self) -> SeedNet:
        return SeedNet(len(self.words_) + 1, len(self.classes_))

    def _index_vocab(self) -> None:
        self._word_index = {w: i + 1 for i, w in enumerate(self.words_)}
        self._gene_index = {g: i + 1 for i, g in enumerate(self.genes_)}
        self._variation_index = {v: i + 1 for i, v in enumerate(self.variations_)}

    def _inputs(self, samples: Sequence[Sample]) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = np.zeros((len(samples), self.max_len), dtype=np.int64)
        genomic = np.zeros((len(samples), 2), dtype=np.float32)
        for i, s in enumerate(samples):
            ids = [j for t in seed_tokens(s.text) if (j := self._word_index.get(t))]
            ids = ids[: self.max_len]
            tokens[i, : len(ids)] = ids
            genomic[i] = (
                self._gene_index.get(s.gene, 0),
                self._variation_index.get(s.variation, 0),
            )
        return torch.from_numpy(tokens), torch.from_numpy(genomic)

    @torch.inference_mode()
    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        self.net_.eval()
        tokens, genomic = self._inputs(samples)
        return self.net_(tokens, genomic).numpy().astype(np.float64)

    def _save(self, directory: Path) -> None:
        torch.save(self.net_.state_dict(), directory / WEIGHTS_FILE)
        state = {"words": self.words_, "genes": self.genes_, "variations": self.variations_}
        (directory / STATE_FILE).write_text(json.dumps(state))

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        super()._load(directory, card)
        state = json.loads((directory / STATE_FILE).read_text())
        self.words_, self.genes_, self.variations_ = (
            state["words"],
            state["genes"],
            state["variations"],
        )
        self._index_vocab()
        self.net_ = self._net()
        self.net_.load_state_dict(torch.load(directory / WEIGHTS_FILE, weights_only=True))
        self.net_.eval()


REFERENCES: dict[str, type[Reference]] = {
    cls.name: cls for cls in (PriorReference, PeerReference, SeedReference, VariantsLRReference)
}


def register_references() -> None:
    """Make ``load_model`` (hence the Predictor and the API) able to load a saved reference."""
    REGISTRY.update(REFERENCES)


def is_reference(name: str) -> bool:
    return name in REFERENCES
