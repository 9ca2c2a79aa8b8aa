"""Sparse features + a linear model, saved as JSON and arrays, never as a pickle.

What ``baseline`` and the novelty detector share: TF-IDF of the selected evidence text, of the
variation's characters, of the context (disease, drugs) and of the words next to the item's
drugs in the text, plus one-hot gene, gene x variation type, gene x position, the parsed
variation features and counts of resistance, response and outcome words; then a logistic
regression.

A pickle in a model directory executes code when loaded, and every replica of the service loads
the shared model directory; so a fitted :class:`FeatureSpace` is stored as its vocabularies and
IDF weights (JSON + ``.npz``) and a :class:`LinearScorer` as its coefficients, and both are
rebuilt from those on load. Features are built without pandas or a ColumnTransformer, whose
fixed cost (~50 ms a call) would dominate single predictions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from scipy.special import log_softmax
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from oncoclass.data.records import Sample
from oncoclass.errors import DataError
from oncoclass.features.genomic import gene_key, parsed, variation_key
from oncoclass.features.text import clean_text, select_text
from oncoclass.features.variation import FEATURE_NAMES


@lru_cache(maxsize=1)
def threadpools() -> ThreadpoolController:
    """Found once: looking up the loaded BLAS libraries costs ~5 ms, too much per request."""
    return ThreadpoolController()


def _columns(samples: Sequence[Sample], max_tokens: int) -> dict[str, list[Any]]:
    """The raw feature columns: four texts and one dict (categorical + dense) per sample."""
    cols: dict[str, list[Any]] = {
        "text": [],
        "variation": [],
        "context": [],
        "near_drugs": [],
        "fields": [],
    }
    for s in samples:
        gene, p = gene_key(s.gene), parsed(s.gene, s.variation)
        selected = select_text(s.text, s.gene, s.variation, max_tokens)
        words = clean_text(selected)
        cols["text"].append(words)
        cols["near_drugs"].append(near_drugs(words, s.drugs))
        cols["variation"].append(variation_key(s.gene, s.variation))
        cols["context"].append(clean_text(" ".join([s.disease, *s.drugs])))
        cols["fields"].append(
            {
                "gene": gene,
                # Gene x variation type and gene x position: the same change means loss of function
                # in a tumour suppressor and gain in an oncogene, and hotspots recur.
                "gene_type": f"{gene}|{p.type}",
                "gene_position": f"{gene}|{p.position or p.normalized}",
                "has_drugs": float(bool(s.drugs)),
                **dict(zip(FEATURE_NAMES, p.features().tolist(), strict=True)),
                **direction_counts(selected, s.drugs),
            }
        )
    return cols


#: Words kept on each side of a mention of the item's drug.
DRUG_WINDOW = 4


def near_drugs(words: str, drugs: Sequence[str], window: int = DRUG_WINDOW) -> str:
    """The ``window`` words on each side of every mention of ``drugs`` in ``words`` (a cleaned
    text), the drug's own name replaced by "drug". A statement often names several drugs
    with opposite effects ("resistant to erlotinib but sensitive to osimertinib"), and which
    one the item is about decides between resistance and response: the text's bag of words
    cannot say, the words next to the item's drug can."""
    tokens = words.split()
    out: list[str] = []
    for name in drug_names(drugs):
        for i in mentions(tokens, name):
            n = len(name)
            out += [*tokens[max(0, i - window) : i], "drug", *tokens[i + n : i + n + window]]
    return " ".join(out)


def drug_names(drugs: Sequence[str]) -> list[list[str]]:
    """Each drug's name as the cleaned words a text names it with (none for an empty name)."""
    return [name for name in (clean_text(d).split() for d in drugs) if name]


def mentions(tokens: Sequence[str], name: Sequence[str]) -> list[int]:
    """Where the words ``name`` start in ``tokens``, in order."""
    n = len(name)
    return [i for i in range(len(tokens) - n + 1) if tokens[i : i + n] == name]


#: A clause ends at punctuation followed by white space ("0.5 mg" and "p.V600E" stay whole).
_CLAUSE_END = re.compile(r"[,;:.!?()]+\s")
#: Words after which the rest of a clause is negated ("did not respond", "lack of benefit").
_NEGATION = frozenset({
    "not", "no", "never", "without", "lack", "lacked", "lacking", "absence", "failed", "fail",
    "fails", "unable", "neither", "nor", "cannot", "didn", "doesn", "don", "isn", "wasn", "weren",
    "aren",
})  # fmt: skip
#: Words that say which way a statement goes, by their beginnings, at the start of a word: a
#: resistance word (looked for before the response words: "insensitive", "nonresponders"), a
#: response word (the unnamed rest), a poor- or a better-outcome word, or a word of a resistance
#: that came later ("acquired", "secondary", "emerged").
_CUE = re.compile(
    r"(?<![^\W_])(?:"
    r"(?P<resistance>resist|refractor|insensitiv|progress|relaps|nonrespon|unrespons)"
    r"|(?P<poor_outcome>poor|wors|shorter|shorten|unfavo|adverse|inferior|aggressiv|dismal"
    r"|detrimental)"
    r"|(?P<better_outcome>better|favo|longer|prolong|superior|good|excellent)"
    r"|(?P<acquired_resistance>acquir|secondar|emerg)"
    r"|sensitiv|respon|benefit|remission|efficac|shrink|regress|improv|effective|durable)"
)
#: A response word that a word before it lessens or heightens, up to two words apart ("reduced
#: sensitivity to", "lower response rates", "enhanced sensitivity"). Only words and spaces
#: between them: a match never crosses a clause's end, so each clause with a response word
#: is searched, not the whole text.
_SHIFTED = re.compile(
    r"(?<![^\W_])(?:(?P<reduced_response>reduc|decreas|lower|diminish|impair|less|loss of"
    r"|attenuat|abrogat|weak)|(?P<increased_response>increas|enhanc|higher|greater|heighten"
    r"|restor))\w*\s+(?:\w+\s+){0,2}?(?:sensitiv|respon|efficac|benefit)"
)
#: The kinds of cue counted over the whole text, negated or not, and in the clauses that name
#: the item's drug (an outcome is the patient's, whichever drug the clause names); the kinds
#: counted over the whole text as they come (a negation does not turn them round).
_TEXT_KINDS = ("resistance", "response", "poor_outcome", "better_outcome")
_DRUG_KINDS = ("resistance", "response")
_PLAIN_KINDS = ("reduced_response", "increased_response", "acquired_resistance")
_NEGATION_WORD = re.compile(rf"(?<![^\W_])(?:{'|'.join(sorted(_NEGATION))})(?![^\W_])")


def direction_counts(text: str, drugs: Sequence[str]) -> dict[str, float]:
    """log1p counts of the words that say which way ``text`` goes, negated or not: resistance
    and response words over the whole text ("text_...") and over the clauses that name one of
    ``drugs`` ("drug_..."), poor- and better-outcome words over the whole text; and, over the
    whole text, response words lessened or heightened by a word before them ("reduced
    sensitivity") and words of an acquired resistance.

    The bag of words cannot read them: its rows are normalised over the whole statement, so
    one "resistant" or "shorter" weighs little beside the statement's other words, and "did not
    respond to erlotinib" shares "respond" with "responded to erlotinib"; a few dense counts
    that gather every form of a cue, with a negation's scope (the rest of its clause), say the
    statement's direction at a scale the linear model uses. Measured for this model (log
    loss, with context / text-only): the resistance and response words -0.023 / -0.065
    (docs/experiments/direction-words); the outcome words a further -0.047 / -0.044, the
    lessened, heightened and acquired ones -0.007 / -0.007 more
    (docs/experiments/outcome-words). Only the clauses with a cue are read word by word (an
    explained 100k paper asks for this on ~16 texts)."""
    names = drug_names(drugs)
    counts = {
        f"{scope}_{neg}{kind}": 0
        for scope, kinds in (("text", _TEXT_KINDS), ("drug", _DRUG_KINDS))
        for neg in ("", "not_")
        for kind in kinds
    } | {f"text_{kind}": 0 for kind in _PLAIN_KINDS}
    for clause in _CLAUSE_END.split(text.lower()):
        cues = list(_CUE.finditer(clause))
        if not cues:
            continue
        negation = _NEGATION_WORD.search(clause)
        negated_from = negation.start() if negation else len(clause)
        plain = [w for w in clean_text(clause).split() if w not in _NEGATION] if names else []
        about_drug = any(mentions(plain, name) for name in names)
        for cue in cues:
            kind = cue.lastgroup or "response"
            if kind in _PLAIN_KINDS:
                counts[f"text_{kind}"] += 1
                continue
            key = f"{'not_' if cue.start() > negated_from else ''}{kind}"
            counts[f"text_{key}"] += 1
            if about_drug and kind in _DRUG_KINDS:
                counts[f"drug_{key}"] += 1
        if any(cue.lastgroup is None for cue in cues):  # a response word: lessened, heightened?
            for shifted in _SHIFTED.finditer(clause):
                counts[f"text_{shifted.lastgroup}"] += 1
    return {key: math.log1p(n) for key, n in counts.items()}


#: The TF-IDF settings of each text column (the text vectoriser also gets ``max_features``).
_TFIDF: dict[str, dict[str, Any]] = {
    "text": {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True},
    "variation": {"analyzer": "char_wb", "ngram_range": (1, 4), "sublinear_tf": True},
    "context": {"ngram_range": (1, 2), "sublinear_tf": True},
    "near_drugs": {"ngram_range": (1, 2), "sublinear_tf": True},
}


class FeatureSpace:
    """The sparse features of samples: ``fit_transform(train)``, then ``transform(samples)``."""

    def __init__(self, max_tokens: int = 400, max_features: int = 100_000) -> None:
        self.max_tokens = max_tokens
        self.max_features = max_features
        self.vectorizers_: dict[str, TfidfVectorizer | DictVectorizer] = {}

    def fit_transform(self, samples: Sequence[Sample]) -> sp.csr_matrix:
        cols = _columns(samples, self.max_tokens)
        self.vectorizers_ = {"fields": DictVectorizer(), "variation": self._tfidf("variation")}
        # Text and context are optional inputs (MSKCC variants-only mode has neither): a
        # vectoriser is only added when the training data has words for it.
        if sum(bool(t.strip()) for t in cols["text"]) >= 2:
            self.vectorizers_["text"] = self._tfidf("text")
        if any(c.strip() for c in cols["context"]):
            self.vectorizers_["context"] = self._tfidf("context")
        if any(cols["near_drugs"]):  # none in the text-only track (no drugs given)
            self.vectorizers_["near_drugs"] = self._tfidf("near_drugs")
        return sp.hstack([v.fit_transform(cols[k]) for k, v in self.vectorizers_.items()], "csr")

    def transform(self, samples: Sequence[Sample]) -> sp.csr_matrix:
        cols = _columns(samples, self.max_tokens)
        # The inputs are the lists built just above: scikit-learn's checks of its parameters and
        # arrays would only cost time (about half of a one-sample transform); the numbers are
        # the same bits (tests/models/test_linear.py).
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            parts = [v.transform(cols[k]) for k, v in self.vectorizers_.items()]
        return sp.hstack(parts, "csr")

    def _tfidf(self, column: str) -> TfidfVectorizer:
        extra = {"max_features": self.max_features} if column == "text" else {}
        return TfidfVectorizer(**_TFIDF[column], **extra)

    # ---- storage: JSON vocabularies + IDF arrays -------------------------------------------------
    def save(self, directory: Path, name: str) -> list[str]:
        """Write ``<name>.json`` and ``<name>.npz``; returns the file names."""
        state: dict[str, Any] = {"max_tokens": self.max_tokens, "max_features": self.max_features}
        arrays: dict[str, np.ndarray] = {}
        for column, v in self.vectorizers_.items():
            if isinstance(v, DictVectorizer):
                state[column] = {"kind": "dict", "features": list(v.feature_names_)}
            else:
                vocabulary = sorted(v.vocabulary_, key=v.vocabulary_.__getitem__)
                state[column] = {"kind": "tfidf", "vocabulary": vocabulary}
                arrays[f"idf:{column}"] = v.idf_
        (directory / f"{name}.json").write_text(json.dumps(state))
        np.savez(directory / f"{name}.npz", **arrays)
        return [f"{name}.json", f"{name}.npz"]

    @classmethod
    def load(cls, directory: Path, name: str) -> FeatureSpace:
        try:
            state = json.loads((directory / f"{name}.json").read_text())
            with np.load(directory / f"{name}.npz", allow_pickle=False) as arrays:
                idf = {k.removeprefix("idf:"): arrays[k] for k in arrays.files}
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"unreadable feature space ({exc})", path=str(directory)) from exc
        space = cls(state["max_tokens"], state["max_features"])
        for column in ("fields", "variation", "text", "context", "near_drugs"):
            if column not in state:
                continue
            entry = state[column]
            if entry["kind"] == "dict":
                v: TfidfVectorizer | DictVectorizer = DictVectorizer()
                v.feature_names_ = list(entry["features"])
                v.vocabulary_ = {f: i for i, f in enumerate(v.feature_names_)}
            else:
                v = space._tfidf(column)
                v.vocabulary_ = {t: i for i, t in enumerate(entry["vocabulary"])}
                v.idf_ = idf[column]
            space.vectorizers_[column] = v
        return space


class LinearScorer:
    """Logistic regression scores, kept as plain coefficients: log-probabilities of
    ``classes`` for a sparse feature matrix."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: Sequence[int]) -> None:
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.classes = [int(c) for c in classes]

    @classmethod
    def fit(
        cls,
        x: sp.csr_matrix,
        y: np.ndarray,
        *,
        C: float,
        class_weight: str | None,
        seed: int,
    ) -> LinearScorer:
        clf = LogisticRegression(C=C, max_iter=3000, class_weight=class_weight, random_state=seed)
        # One BLAS thread: lbfgs on sparse features gains nothing from more, and on a small
        # machine shared with a server (or other fits) more threads are 4x slower.
        with threadpools().limit(limits=1, user_api="blas"):
            clf.fit(x, y)
        return cls(clf.coef_, clf.intercept_, clf.classes_)

    def log_proba(self, x: sp.csr_matrix) -> np.ndarray:
        """(n, len(classes)) log-probabilities (two classes: the binary logistic model)."""
        with threadpools().limit(limits=1, user_api="blas"):
            z = np.asarray(x @ self.coef.T) + self.intercept
        if len(self.classes) == 2:  # one coefficient row: the second class's log-odds
            z = np.hstack([np.zeros_like(z), z])
        return log_softmax(z, axis=1)

    def save(self, directory: Path, name: str) -> list[str]:
        np.savez(
            directory / f"{name}.npz",
            coef=self.coef,
            intercept=self.intercept,
            classes=np.asarray(self.classes, dtype=np.int64),
        )
        return [f"{name}.npz"]

    @classmethod
    def load(cls, directory: Path, name: str) -> LinearScorer:
        try:
            with np.load(directory / f"{name}.npz", allow_pickle=False) as a:
                return cls(a["coef"], a["intercept"], a["classes"].tolist())
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"unreadable linear model ({exc})", path=str(directory)) from exc
