"""Text preprocessing: cleaning, tokens, sentences, evidence selection and the vocabulary.

Evidence texts are long (a whole paper, often 100k characters) while the part that speaks about
one variant is a few sentences. ``select_sentences`` keeps the sentences that mention the
variation or the gene (with their neighbours for context) up to a token budget; every model reads
that selection, and the predictor shows the same spans as evidence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from oncoclass.errors import DataError, InvalidInputError
from oncoclass.features.variation import parse_variation

PAD, UNK = "<pad>", "<unk>"

_NON_WORD = re.compile(r"[\W_]+")  # anything but letters and digits (of any script)


def clean_text(text: str) -> str:
    """Lowercase; every run of non-alphanumerics becomes one space ("V600E-mutant" -> "v600e
    mutant"), so words stay apart and digits stay in their words."""
    return _NON_WORD.sub(" ", text.lower()).strip()


def tokenize(text: str) -> list[str]:
    return clean_text(text).split()


# --- sentences ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of a text: ``text == original[start:end]``."""

    start: int
    end: int
    text: str


#: Words whose final period does not end a sentence ("e.g.", "et al.", "Fig. 2", "vs.").
_ABBREVIATIONS = frozenset({
    "al", "e.g", "eg", "i.e", "ie", "fig", "figs", "ref", "refs", "vs", "cf", "approx", "ca",
    "no", "nos", "vol", "pp", "eq", "eqs", "tab", "suppl", "dr", "mr", "mrs", "ms", "prof", "st",
    "sp", "spp", "resp", "incl", "var", "ex", "nat", "sci", "biol", "med", "chem", "res", "proc",
    "p", "c", "g",  # HGVS prefixes written with a space: "p. V600E"
})  # fmt: skip
#: A candidate boundary: end punctuation with closing quotes/brackets, then whitespace; or a
#: blank line (paragraph break). A run of punctuation is matched once, from its start and
#: possessively, so that "....." (100k of them) stays linear.
_BOUNDARY = re.compile(r"(?<![.!?])[.!?]++[\"'\u201d\u2019)\]]*+(?=\s)|\n[ \t]*\n")
_STARTS_LOWER = re.compile(r"\s*[a-z]")
_LAST_WORD = re.compile(r"[^\s(\[]*\Z")
#: An initial ("J. Smith") or a dotted abbreviation ("U.S."); "24 h." does end a sentence.
_INITIAL = re.compile(r"[A-Z]|(?:[A-Za-z]\.)+[A-Za-z]")


def _is_sentence_end(text: str, match: re.Match[str]) -> bool:
    if match[0].startswith("\n"):
        return True
    if _STARTS_LOWER.match(text, match.end()):  # "et al. showed": the sentence goes on
        return False
    if not match[0].startswith("."):
        return True
    # The word before this period (looking back a bounded distance keeps this linear).
    start = match.start()
    word = _LAST_WORD.search(text, max(0, start - 40), start)[0].rstrip(".")
    return word.lower() not in _ABBREVIATIONS and not _INITIAL.fullmatch(word)


def split_sentences(text: str, max_chars: int = 2000) -> list[Span]:
    """Split ``text`` into sentences, with offsets into it.

    A regex splitter, linear in the text: a sentence ends at ``.``, ``!`` or ``?`` followed by
    whitespace and not by a lowercase word, unless the period ends an abbreviation ("e.g.",
    "et al.", "Fig.") or an initial; decimals ("0.5") and "p.V600E" have no whitespace after the
    period, so they never split. A blank line always ends a sentence. Sentences longer than
    ``max_chars`` (tables and lists of extracted PDFs have no periods) are cut at whitespace.
    """
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if _is_sentence_end(text, match):
            _add_span(text, start, match.end(), spans, max_chars)
            start = match.end()
    _add_span(text, start, len(text), spans, max_chars)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[Span], max_chars: int) -> None:
    """Append text[start:end] without its surrounding whitespace, in pieces of <= max_chars."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars + 1)
        cut = cut if cut > start else start + max_chars
        spans.append(Span(start, cut, text[start:cut]))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        spans.append(Span(start, end, text[start:end]))


#: Texts at least this long have their sentences and ranks kept (see ``_sentences``): a
#: 100k-character paper, and the up to 25 occluded copies of its selected sentences (a few
#: thousand characters each) that its explanation reads, each copy by two members of the
#: default ensemble. Shorter texts (a CIViC statement) split in microseconds.
KEPT_TEXT_CHARS = 1_000


def _sentences(text: str) -> Sequence[Span]:
    """``split_sentences(text)``, kept for the last texts of ``KEPT_TEXT_CHARS`` or more: one
    request selects from the same paper several times (each model of an ensemble, with its own
    budget, and the explanation), and splitting 100k characters costs ~10 ms each time."""
    return _kept_sentences(text) if len(text) >= KEPT_TEXT_CHARS else split_sentences(text)


@lru_cache(maxsize=64)
def _kept_sentences(text: str) -> tuple[Span, ...]:
    return tuple(split_sentences(text))


# --- selecting the evidence ---------------------------------------------------------------------


def _terms_pattern(terms: Iterable[str]) -> re.Pattern[str]:
    """Case-insensitive pattern for any of ``terms`` as whole words (flexible inner spaces).

    Lookarounds instead of ``\\b``: a term may end in "*" ("W802*"), where ``\\b`` fails.
    """
    alternatives = sorted(
        {r"\s+".join(map(re.escape, t.split())) for t in terms if t.strip()}, key=len, reverse=True
    )
    if not alternatives:
        return re.compile(r"(?!)")  # matches nothing
    return re.compile(rf"(?<![^\W_])(?:{'|'.join(alternatives)})(?![^\W_])", re.IGNORECASE)


def variation_patterns(gene: str, variation: str) -> re.Pattern[str]:
    """A pattern matching the gene symbol or any spelling of the variation
    (``parse_variation(...).aliases()``: one- and three-letter forms) as whole words."""
    return _terms_pattern([gene, *parse_variation(variation, gene).aliases()])


@dataclass(frozen=True, slots=True)
class Mentions:
    """Whether a text names the gene and the variation (any spelling the parser knows)."""

    gene: bool
    variation: bool

    @property
    def either(self) -> bool:
        return self.gene or self.variation


def find_mentions(text: str, gene: str, variation: str) -> Mentions:
    """Does ``text`` name ``gene`` (as a whole word, any case) and ``variation`` (one- or
    three-letter forms, with or without "p.")? A text that names neither may be about
    another variant."""
    aliases = parse_variation(variation, gene).aliases()
    return Mentions(
        gene=bool(gene.strip()) and _terms_pattern([gene]).search(text) is not None,
        variation=bool(aliases) and _terms_pattern(aliases).search(text) is not None,
    )


def select_sentences(
    text: str, gene: str, variation: str, max_tokens: int = 400, neighbours: int = 1
) -> list[Span]:
    """The sentences of ``text`` about this variant, in document order, within ``max_tokens``.

    Priority, highest first: sentences that mention the variation, their ``neighbours`` on each
    side (the context of the variation), sentences that mention the gene, their neighbours.
    Sentences are taken in that order (document order within a rank) while they fit the budget.
    If nothing mentions gene or variation, the first sentences of the text are taken. When the
    first sentence to take alone exceeds the budget, its beginning is taken.
    """
    if max_tokens < 1:
        raise InvalidInputError("max_tokens must be at least 1", field="max_tokens")
    spans = _sentences(text)
    if not spans:
        return []
    rank = _ranks(text, spans, gene, variation, neighbours)
    order = sorted((i for i in range(len(spans)) if rank[i] < 4), key=lambda i: (rank[i], i))

    chosen: dict[int, Span] = {}
    used = 0
    for i in order:
        n = _token_count(spans[i].text)
        if used + n <= max_tokens:
            chosen[i] = spans[i]
            used += n
        elif not chosen:  # the most relevant sentence alone is over budget: keep its beginning
            chosen[i] = _truncate(spans[i], max_tokens)
            used = max_tokens
        if used >= max_tokens:
            break
    return [chosen[i] for i in sorted(chosen)]


@lru_cache(maxsize=4096)
def _token_count(sentence: str) -> int:
    """Tokens in a sentence; kept, because a request selects from the same sentences many
    times (each budget of an ensemble's members, and each occluded variant of the
    explanation: ~1,500 sentences to count on a 100k-character paper)."""
    return len(tokenize(sentence))


def _ranks(
    text: str, spans: Sequence[Span], gene: str, variation: str, neighbours: int
) -> Sequence[int]:
    """Each sentence's priority for ``select_sentences`` (4: not selected), kept for the last
    last texts like their sentences (two regex scans of 100k characters: ~10 ms)."""
    if len(text) >= KEPT_TEXT_CHARS:
        return _kept_ranks(text, gene, variation, neighbours)
    return _rank_spans(text, spans, gene, variation, neighbours)


@lru_cache(maxsize=64)
def _kept_ranks(text: str, gene: str, variation: str, neighbours: int) -> tuple[int, ...]:
    return _rank_spans(text, _sentences(text), gene, variation, neighbours)


def _rank_spans(
    text: str, spans: Sequence[Span], gene: str, variation: str, neighbours: int
) -> tuple[int, ...]:
    var_re = _terms_pattern(parse_variation(variation, gene).aliases())
    gene_re = _terms_pattern([gene])
    starts = [s.start for s in spans]
    rank = [4] * len(spans)  # 4: not selected (unless nothing matches at all)
    for level, pattern in ((0, var_re), (2, gene_re)):
        for match in pattern.finditer(text):  # one scan of the text, mapped to its sentences
            i = bisect_right(starts, match.start()) - 1
            if i < 0 or match.start() >= spans[i].end:
                continue  # defensive: only whitespace lies between sentences
            rank[i] = min(rank[i], level)
            for j in range(max(0, i - neighbours), min(len(spans), i + neighbours + 1)):
                rank[j] = min(rank[j], level + 1)
    if all(r == 4 for r in rank):
        rank = [0] * len(spans)  # fall back to the beginning of the text
    return tuple(rank)


_TOKEN = re.compile(r"[^\W_]+")


def _truncate(span: Span, max_tokens: int) -> Span:
    """The beginning of ``span`` holding its first ``max_tokens`` tokens."""
    ends = [m.end() for m in _TOKEN.finditer(span.text)]
    if len(ends) <= max_tokens:
        return span
    end = ends[max_tokens - 1]
    return Span(span.start, span.start + end, span.text[:end])


@lru_cache(maxsize=256)
def select_text(text: str, gene: str, variation: str, max_tokens: int = 400) -> str:
    """``select_sentences`` joined into one string; cached, because every member of an
    ensemble selects from the same (up to 100k-character) text."""
    return " ".join(s.text for s in select_sentences(text, gene, variation, max_tokens))


# --- vocabulary ---------------------------------------------------------------------------------


class Vocabulary:
    """Token <-> id, with ``<pad>`` = 0 and ``<unk>`` = 1 (what an unknown token encodes to)."""

    def __init__(self, tokens: Sequence[str] = ()) -> None:
        self._itos = [PAD, UNK, *(t for t in dict.fromkeys(tokens) if t not in (PAD, UNK))]
        self._stoi = {t: i for i, t in enumerate(self._itos)}

    @classmethod
    def build(
        cls, texts_tokens: Iterable[Sequence[str]], max_size: int = 20000, min_freq: int = 2
    ) -> Vocabulary:
        """The most frequent tokens seen at least ``min_freq`` times; ``max_size`` counts PAD and
        UNK. Ties break alphabetically, so the same corpus always gives the same ids."""
        counts = Counter(t for tokens in texts_tokens for t in tokens)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        return cls(kept[: max(0, max_size - 2)])

    def encode(self, tokens: Sequence[str], max_len: int) -> list[int]:
        """Ids of the first ``max_len`` tokens (not padded: see ``pad_batch``)."""
        if max_len < 0:
            raise InvalidInputError("max_len must not be negative", field="max_len")
        return [self._stoi.get(t, 1) for t in tokens[:max_len]]

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def to_list(self) -> list[str]:
        """All tokens by id, PAD and UNK first: JSON-ready for checkpoints."""
        return list(self._itos)

    @classmethod
    def from_list(cls, tokens: Sequence[str]) -> Vocabulary:
        """The inverse of ``to_list``; a list that is not one (wrong head, repeats) is refused."""
        tokens = list(tokens)
        if tokens[:2] != [PAD, UNK] or len(set(tokens)) != len(tokens):
            raise DataError(f"not a saved vocabulary: it must start with {PAD}, {UNK} and hold "
                            "no repeated token")  # fmt: skip
        return cls(tokens[2:])


def pad_batch(sequences: Sequence[Sequence[int]], min_len: int = 1) -> np.ndarray:
    """An int64 (batch, width) array padded with 0; width = max(longest, ``min_len``), since a CNN
    needs at least its widest kernel."""
    width = max([min_len, *(len(s) for s in sequences)])
    batch = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in zip(batch, sequences, strict=True):
        row[: len(seq)] = seq
    return batch
