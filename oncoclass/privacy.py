"""De-identification of evidence text before it is stored or logged.

A clinical report about a patient carries the identifiers that HIPAA's Safe Harbor method
removes: names, dates, record and accession numbers, phone numbers, e-mail addresses, street
addresses and ZIP codes, ages over 89, URLs and IP addresses. A ``Deidentifier`` finds them with
Presidio (``presidio-analyzer``): its predefined recognisers where it has one (e-mail, phone
numbers through ``phonenumbers``, URL, IP, dates, SSN, NPI, credit-card and IBAN numbers), and
Presidio ``PatternRecognizer``s with context words, defined here, for what it has none of
(record numbers, US street addresses, ages over 89, names after titles and cue words). Each
identifier is replaced by a typed placeholder: ``[NAME]``, ``[DATE]``, ``[ID]``, ``[PHONE]``,
``[EMAIL]``, ``[ADDRESS]``, ``[AGE>89]``, ``[URL]``, ``[IP]``.

No statistical NER model: spaCy's trained pipelines are not on PyPI and nothing may be
downloaded at run time. Presidio is given an NLP engine that computes nothing (the context
words are read from the text around each match), and names are found from cue words before
them ("Mr.", "Dr.", "Patient:", "seen by", "daughter"), credentials after them ("RN", "MD"),
the US Census Bureau's 1990 name lists (5,163 given names, 88,799 surnames, as shipped by the
PyPI package ``names``), and, for two capitalised words that no list knows, Presidio's context
words around them ("(MRN", "was admitted"). What a statistical model would catch and this
doesn't: a lone first name or surname with no cue ("Smith tolerated cycle 2"), and unknown
names in running text with no context word.

Long texts (a paper of 100,000 characters: ~70 ms) are kept fast by three shortcuts, each
tested to find what the plain way finds: the context words are read near each match, not
from a tokenised whole text; patterns that start with a cue phrase find their cues first
(:class:`CuedPattern`); patterns that start with a digit say so (``_AT_DIGIT``).

Kept on purpose, because the classifier reads them and none identifies a patient: gene symbols,
variants, drug and disease names, result figures, years on their own (Safe Harbor allows them)
and ages up to 89. Author citations ("Smith et al., 2015") are kept too: they name the authors of
a published paper, not the patient, and a surname on its own can't be told from a word without a
model (a surname list takes "Hodgkin", "Cox" or "Fisher" for people as well).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import multiprocessing
import os
import re
import threading
import time
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from importlib import resources
from typing import Any, NamedTuple

import regex
import tldextract
from presidio_analyzer import (
    AnalysisExplanation,
    AnalyzerEngine,
    EntityRecognizer,
    LocalRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    DateRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsNpiRecognizer,
    UsSsnRecognizer,
)
from spacy.lang.en.stop_words import STOP_WORDS

#: Presidio entity type -> the placeholder label that replaces it.
LABELS: dict[str, str] = {
    "PERSON": "NAME",
    "DATE_TIME": "DATE",
    "RECORD_NUMBER": "ID",
    "US_SSN": "ID",
    "US_NPI": "ID",
    "CREDIT_CARD": "ID",
    "IBAN_CODE": "ID",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "STREET_ADDRESS": "ADDRESS",
    "AGE_OVER_89": "AGE>89",
    "URL": "URL",
    "IP_ADDRESS": "IP",
}

log = logging.getLogger(__name__)

#: Below this confidence a Presidio result is dropped. Weak patterns (a bare 7-digit number, a
#: name whose given name is not in the list) start below it and pass only with one of their
#: context words among the five words before them, in the same sentence (Presidio adds 0.35).
SCORE_THRESHOLD = 0.4

#: How much lower the helper process's scheduling priority is than its server's.
HELPER_NICENESS = 10

# Our patterns are case-sensitive (a name or a street starts with a capital); cue words inside
# them are marked case-insensitive with (?i:...). Presidio's default adds IGNORECASE.
_FLAGS = regex.DOTALL | regex.MULTILINE
#: Leads a pattern that starts with a digit: the regex engine then skips to the next digit
#: instead of trying the pattern at every position (5x faster on a paper's prose).
_AT_DIGIT = r"(?=\d)"


class Entity(NamedTuple):
    """One identifier found: its placeholder label and where it was in the original text."""

    type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ScrubResult:
    """The scrubbed text and the identifiers replaced (offsets into the original text)."""

    text: str
    entities: list[Entity]

    @property
    def changed(self) -> bool:
        return bool(self.entities)

    def position(self, offset: int) -> int:
        """Where ``offset`` of the original text lies in the scrubbed one (an offset inside a
        replaced identifier moves to the end of its placeholder)."""
        shift = 0
        for e in sorted(self.entities, key=lambda e: e.start):
            if e.start >= offset:
                break
            placeholder = len(f"[{e.type}]")
            if e.end > offset:  # inside it
                return e.start + shift + placeholder
            shift += placeholder - (e.end - e.start)
        return offset + shift


def text_hash(text: str, key: bytes | None = None) -> str:
    """The SHA-256 of ``text`` (UTF-8) as hex: what the no-text mode stores instead of the text,
    to recognise a text seen again without keeping it. With ``key``, an HMAC-SHA256 instead: a
    plain hash of a short, guessable note (a template with an MRN filled in) can be reversed by
    trying candidates, a keyed one can't without the key."""
    data = text.encode("utf-8")
    if key is not None:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


# ---- the NLP engine and the context words: no model -------------------------------------------
#: A word, a title or Latin abbreviation with its period ("Dr.", "e.g."), or one punctuation mark.
_TOKEN = regex.compile(r"(?i:\b(?:mrs?|ms|mx|dr|prof|pt|nos?|vs|fig|al|e\.g|i\.e)\.)|\w+|[^\w\s]")
_SENTENCE_ENDS = frozenset({".", "!", "?", ";"})


class NoNlpEngine(NlpEngine):
    """The NLP engine Presidio runs on: nothing to load or download, and nothing computed
    ahead. Presidio reads an NLP engine's words for one purpose here, the context words around
    a match, and :class:`SentenceContextEnhancer` reads those from the text around each match
    (a few dozen characters) instead: tokenising the whole of a 100,000-character paper was
    ~15% of its scrub, for the hundred-odd matches that look at context."""

    def __init__(self) -> None:
        self._loaded = False

    def load(self) -> None:
        self._loaded = True

    def is_loaded(self) -> bool:
        return self._loaded

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        # Without an engine NlpArtifacts skips its keyword list, which nothing here reads.
        return NlpArtifacts(
            entities=[],
            tokens=[],
            tokens_indices=[],
            lemmas=[],
            nlp_engine=None,  # type: ignore[arg-type]
            language=language,
        )

    def process_batch(
        self, texts: Iterable[str], language: str, batch_size: int = 1, n_process: int = 1, **_
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word.lower() in STOP_WORDS

    def is_punct(self, word: str, language: str) -> bool:
        return not any(c.isalnum() for c in word)

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return ["en"]


class _Words:
    """The words of one text (``_TOKEN``s, lower-case, without a title's period), read where
    they are asked for: a scan that starts after white space starts at a word boundary (no word
    spans white space) and gives the words the whole text's scan gives there. With no white
    space near ("a.a.a..." for thousands of characters), or when asked (``whole``), the whole
    text is scanned once, so that no match rescans it."""

    #: How far to look for white space on each side, in characters.
    NEAR = 64
    _SPACE = regex.compile(r"\s")
    _LAST_SPACE = regex.compile(r"(?r)\s")

    def __init__(self, text: str, whole: bool = False) -> None:
        self.text = text
        self._all: tuple[list[int], list[str]] | None = None
        if whole:
            self._everything()

    def between(self, start: int, end: int) -> list[str]:
        """The words that start in ``[start, end)``, in order."""
        if self._all is None and (words := self._near(start, end)) is not None:
            return words
        starts, words = self._everything()
        return words[bisect_left(starts, start) : bisect_left(starts, end)]

    def _near(self, start: int, end: int) -> list[str] | None:
        """``between`` from a scan of the text near the range; None without white space near."""
        text, near = self.text, self.NEAR
        space = self._LAST_SPACE.search(text, max(0, start - near), start) if start else None
        after = self._SPACE.search(text, end, end + near) if end < len(text) else None
        if (start and space is None) or (end < len(text) and after is None):
            return None
        scan_from = space.end() if space else 0
        scan_to = after.start() if after else len(text)
        return [
            self._word(m)
            for m in _TOKEN.finditer(text, scan_from, scan_to)
            if start <= m.start() < end
        ]

    def _everything(self) -> tuple[list[int], list[str]]:
        if self._all is None:
            matches = list(_TOKEN.finditer(self.text))
            self._all = [m.start() for m in matches], [self._word(m) for m in matches]
        return self._all

    @staticmethod
    def _word(m: regex.Match[str]) -> str:
        return m.group().lower().rstrip(".") or "."


class SentenceContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's context enhancement: a context word of the recogniser near a match adds 0.35
    to its score. Near means among the five words before the match or the two after it ("Ingo
    Seifert (MRN ...", "... was admitted"), in the match's own sentence ("seen" ending one
    sentence says nothing of a name starting the next). Presidio's version deep-copies every
    result and scans every word of the text for every match, which makes a long text with many
    findings quadratic (seconds at 300,000 characters); here the words are read from the text
    around each match, and the results, this call's own, are updated in place."""

    #: Characters read on each side of a match at first (four times more while its words need more).
    REACH = 48
    #: Fewer characters per match than this, and the whole text's words are read at once.
    CHARS_PER_MATCH = 300

    def __init__(self) -> None:
        super().__init__(
            context_prefix_count=5, context_suffix_count=2, context_matching_mode="whole_word"
        )

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        contexts = {r.id: {w.lower() for w in r.context} for r in recognizers if r.context}
        todo = []
        for result in raw_results:
            metadata = result.recognition_metadata or {}
            words = contexts.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if words and not metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                todo.append((result, words))
        # Reading near each match pays on a long text with few matches (a paper); reading the
        # whole text once, on a short one or one dense in matches (a report).
        whole = len(text) < self.CHARS_PER_MATCH * len(todo)
        words_of_text = _Words(text, whole=whole)
        for result, words in todo:
            if words.intersection(self._surrounding_words(words_of_text, result)):
                score = max(
                    result.score + self.context_similarity_factor,
                    self.min_score_with_context_similarity,
                )
                result.score = min(score, self.MAX_SCORE)
        return raw_results

    def _surrounding_words(self, text: _Words, result: RecognizerResult) -> list[str]:
        # As Presidio does: the match's own first word (the last word starting at or before
        # the match's start), then the n words before it; and the n words after it.
        size = len(text.text)
        before = self._reach_out(
            lambda reach: text.between(max(0, result.start - reach), result.start + 1)[::-1],
            lambda reach: result.start - reach <= 0,
            self.context_prefix_count + 1,
        )
        following = self._reach_out(
            lambda reach: text.between(result.end, min(size, result.end + reach)),
            lambda reach: result.end + reach >= size,
            self.context_suffix_count,
        )
        return before + following

    def _reach_out(
        self, lemmas: Callable[[int], list[str]], at_edge: Callable[[int], bool], n: int
    ) -> list[str]:
        """``_words`` of the lemmas within ``REACH`` characters, four times further while
        they are not all of them and the text goes on."""
        reach = self.REACH
        while True:
            words, complete = self._words(lemmas(reach), n)
            if complete or at_edge(reach):
                return words
            reach *= 4

    @staticmethod
    def _words(lemmas: Sequence[str], n: int) -> tuple[list[str], bool]:
        """Up to ``n`` words (no stop words or punctuation) of ``lemmas`` in order, to a
        sentence end; and whether that is all of them (``n`` found, or a sentence end)."""
        words: list[str] = []
        for lemma in lemmas:
            if len(words) >= n or lemma in _SENTENCE_ENDS:
                return words, True
            if lemma not in STOP_WORDS and any(c.isalnum() for c in lemma):
                words.append(lemma)
        return words, len(words) >= n


# ---- names -----------------------------------------------------------------------------------
@lru_cache(maxsize=1 << 16)
def _fold(word: str) -> str:
    """Lower case without accents, to look a word up in the ASCII name lists: "José" ->
    "jose". Kept: a paper's capitalised words repeat (a third of a scrub's name search was
    this, uncached)."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


#: Census given names that are also words, capitalised in medical text more often than they
#: name anyone ("In Western blots", "May 2019", "Gene Expression").
_AMBIGUOUS_GIVEN = frozenset({
    "in", "an", "see", "do", "my", "so", "us", "will", "may", "june", "april", "august", "gene",
    "major", "long", "young", "case", "han", "von", "van", "le", "la", "de", "del", "di", "du",
    "da", "al", "el", "st", "ma", "mi",
})  # fmt: skip
#: Capitalised words that are no part of a person's name: medical, institutional, ethnic and
#: document words, report headings, titles and labels (checked in lower case).
_NOT_NAME = frozenset({
    # diseases and anatomy
    "syndrome", "syndromes", "disease", "diseases", "disorder", "lymphoma", "lymphomas",
    "leukemia", "leukaemia", "sarcoma", "sarcomas", "carcinoma", "carcinomas", "tumor",
    "tumors", "tumour", "tumours", "cell", "cells", "cancer", "cancers", "neoplasm",
    "neoplasms", "myeloma", "melanoma", "glioma", "blastoma", "anemia", "anaemia",
    "histiocytosis", "lung", "breast", "colon", "liver", "brain", "kidney", "bone", "skin",
    "blood", "marrow", "chest", "pain", "shortness", "breath",
    # institutions, services, studies and methods
    "hospital", "hospitals", "medical", "medicine", "center", "centre", "clinic", "clinics",
    "institute", "university", "college", "school", "foundation", "health", "healthcare",
    "oncology", "hematology", "haematology", "pathology", "radiology", "surgery", "genetics",
    "genomics", "molecular", "clinical", "department", "emergency", "intensive", "care",
    "unit", "service", "ward", "board", "group", "groups", "trial", "trials", "study",
    "studies", "cohort", "cohorts", "network", "consortium", "program", "programme",
    "project", "registry", "database", "atlas", "laboratory", "laboratories", "lab", "labs",
    "criteria", "score", "scale", "classification", "grade", "stage", "test", "tests",
    "assay", "assays", "panel", "kit", "method", "methods", "index", "curve", "curves",
    "regression", "analysis", "analyses", "estimator", "exact", "rank", "sum", "sequencing",
    "next", "generation", "whole", "exome", "genome", "pan", "recurrence",
    # peoples and places
    "chinese", "japanese", "korean", "asian", "american", "african", "european", "caucasian",
    "hispanic", "latino", "italian", "french", "german", "british", "indian", "arab",
    "jewish", "ashkenazi", "caribbean", "western", "eastern", "northern", "southern",
    # documents, headings, labels, titles and degrees
    "phase", "figure", "figures", "table", "tables", "supplementary", "report", "reports",
    "note", "notes", "summary", "letter", "history", "present", "illness", "chief",
    "complaint", "assessment", "plan", "impression", "diagnosis", "findings", "results",
    "specimen", "source", "type", "final", "addendum", "comment", "interpretation",
    "recommendation", "recommendations", "limitations", "references", "signed", "reviewed",
    "electronically", "attending", "fellow", "resident", "nurse", "practitioner",
    "physician", "patient", "patients", "dear", "name", "no", "number", "id", "ids", "date",
    "birth", "age", "sex", "male", "female", "mrn", "dob", "dr", "mr", "mrs", "ms", "mx",
    "miss", "prof", "professor", "sir", "dame", "md", "phd", "do", "rn", "np", "pa", "mbbs",
    "frcp", "facp", "facmg",
})  # fmt: skip
#: Endings of long medical words ("Glioblastoma Multiforme", "Fibrillary Astrocytoma").
_MEDICAL_ENDING = regex.compile(
    r"(?:omas?|a?emias?|osis|itis|forme|ular|ary|ous|ive|plasia|pathy)$"
)
#: Words after a person's name that make it an institution's name.
_INSTITUTIONS = frozenset({
    "university", "hospital", "hospitals", "institute", "center", "centre", "clinic",
    "college", "school", "foundation", "medical", "cancer", "memorial", "health",
    "healthcare", "children's", "research", "laboratory", "laboratories",
})  # fmt: skip

_NAME_WORD = r"(?:Mc|Mac|O'|O’|D'|D’)?\p{Lu}\p{Ll}+(?:[-'’]\p{Lu}\p{Ll}+)?"
#: Lower-case particles of surnames: "van der Berg", "de la Cruz".
_PARTICLES = r"(?:van|von|de|der|den|del|della|di|da|du|la|le|dos|das|ten|ter|bin|ibn)"
_NOT_NAME_AHEAD = r"(?!(?i:" + "|".join(sorted(_NOT_NAME)) + r")\b)"
_NAME_PART = rf"(?:{_PARTICLES}\s+)*{_NOT_NAME_AHEAD}{_NAME_WORD}"
_INITIAL = r"\p{Lu}\.?"
#: "John Smith", "John A. Smith", "Anna van der Berg", "Mary-Jane O'Neil": two or three parts.
_FULL_NAME = rf"{_NAME_PART}(?:\s+(?:{_INITIAL}\s+)?{_NAME_PART}){{1,2}}"
#: "Smith", "J. Smith", "Smith Jones": what follows a title.
_TITLED_NAME = rf"(?:{_INITIAL}\s+)?{_NAME_PART}(?:\s+(?:{_INITIAL}\s+)?{_NAME_PART}){{0,2}}"
#: "Smith, John", "Smith, John A."
_LAST_FIRST = rf"{_NAME_PART},\s+{_NAME_PART}(?:\s+{_INITIAL})?"

_TITLES = r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Professor|Sir|Dame|Mme|Herr|Frau)"


def _phrases(*parts: Iterable[str]) -> list[str]:
    """Every phrase made of one choice from each part, joined by spaces ("" leaves a part
    out): ``_phrases(["medical record"], ["", "number", "no"])`` gives "medical record",
    "medical record number" and "medical record no"."""
    phrases = [""]
    for part in parts:
        phrases = [f"{p} {c}".strip() if c else p for p in phrases for c in part]
    return phrases


def _trie_pattern(phrases: Iterable[str]) -> str:
    """A regex matching any of ``phrases`` (a space stands for any white space), the longest
    first, factored by their common beginnings ("pa(?:thologist|tient)"). A flat alternation
    of sixty cue words is tried word by word at each position of a text; factored, one letter
    rules most out (the cue-word scan of a 100,000-character paper is ~2.5x faster)."""
    trie: dict[str, Any] = {}
    for phrase in phrases:
        node = trie
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        branches = [
            (r"\s+" if ch == " " else re.escape(ch)) + pattern(child)
            for ch, child in sorted(node.items())
            if ch
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(trie)


class CuedPattern(Pattern):
    """A Presidio pattern that starts with a cue phrase, in any case ("MRN", "seen by", "Zip
    code"): ``(?i:\\b<cue>)<after>``. The cues are looked for first, in the lower-cased
    text, by Python's ``re`` module, and the whole pattern is tried only where one starts: a
    case-insensitive alternation of sixty phrases tried by ``regex`` at each position of a
    100,000-character paper takes ~10 ms, ``re`` finds them in the lower-cased text in ~3. The
    matches are those of the whole pattern over the text (a match starts where its cue does).

    Presidio runs a pattern through its ``compiled_regex.finditer(text, timeout=...)``, which
    it compiles itself only when it is missing or was compiled with other flags than its
    recogniser's: set here, with the recogniser's flags (``_FLAGS``)."""

    def __init__(self, name: str, cues: Iterable[str], after: str, score: float) -> None:
        cue = _trie_pattern(cues)
        super().__init__(name, rf"(?i:\b{cue}){after}", score)
        self.compiled_regex = _CueFirst(
            re.compile(f"(?=(?:{cue}))"), regex.compile(self.regex, _FLAGS)
        )
        self.compiled_with_flags = _FLAGS


class _CueFirst:
    """``whole.finditer`` over a text, tried only where ``cue`` matches its lower case."""

    def __init__(self, cue: re.Pattern[str], whole: regex.Pattern[str]) -> None:
        self.cue, self.whole = cue, whole

    def finditer(self, text: str, timeout: float | None = None) -> Iterator[regex.Match[str]]:
        lowered = text.lower()
        if len(lowered) != len(text):  # a letter whose lower case is longer ("İ"): no offsets
            yield from self.whole.finditer(text, timeout=timeout)
            return
        end = 0
        for candidate in self.cue.finditer(lowered):
            if candidate.start() >= end and (
                match := self.whole.match(text, candidate.start(), timeout=timeout)
            ):
                yield match
                end = match.end()


_ROLES = [
    "physician", "provider", "clinician", "oncologist", "pathologist", "surgeon",
    "nurse", "counsellor", "counselor", "phlebotomist", "technologist", "technician",
    "pharmacist", "coordinator", "social worker",
]  # fmt: skip
_RELATIVES = [
    "daughter", "son", "wife", "husband", "mother", "father", "sister", "brother", "spouse",
    "partner", "guardian", "next of kin", "grandson", "granddaughter", "grandmother",
    "grandfather", "aunt", "uncle", "niece", "nephew", "cousin", "friend", "caregiver", "carer",
    "informant", "contact", "emergency contact",
]  # fmt: skip
#: Words after which a person's name follows: labels, roles, relatives.
_NAME_CUES = [
    *_phrases(["patient", "patient's"], ["", "name"]), "pt", "name", "dear", "cc", "attention",
    "attn", "attending", "attending physician", *_ROLES, *_RELATIVES,
    *_phrases(["seen", "referred", "dictated", "reviewed", "verified"], ["by"]),
    *_phrases(["referring"], ["physician", "provider", "doctor", "clinician", "oncologist"]),
    *_phrases(["", "electronically"], ["signed", "signed out"], ["by"]),
]  # fmt: skip


@cache
def _census_names() -> tuple[frozenset[str], frozenset[str]]:
    """(given names, surnames), lower-case, from the US Census 1990 files in ``names``."""
    files = resources.files("names")

    def read(name: str) -> set[str]:
        lines = files.joinpath(name).read_text(encoding="ascii").splitlines()
        return {line.split()[0].lower() for line in lines if line.strip()}

    given = read("dist.male.first") | read("dist.female.first")
    given -= _AMBIGUOUS_GIVEN | STOP_WORDS | _NOT_NAME
    return frozenset(given), frozenset(read("dist.all.last") - STOP_WORDS - _NOT_NAME)


def _no_name_part(word: str) -> bool:
    """Whether a capitalised word (lower case, no accents) can't be part of a person's name: a
    listed word, or a long one with a medical ending that is no known given name."""
    if word in _NOT_NAME:
        return True
    return len(word) >= 8 and bool(_MEDICAL_ENDING.search(word)) and word not in _census_names()[0]


class NameListRecognizer(LocalRecognizer):
    """Names without a cue word before them: two or three adjacent capitalised words followed
    by a credential ("Julita Donaldson, RN") or whose first is a known given name ("Maria
    Gonzalez was discussed"); weaker, any other such words ("Ingo Seifert"), which then need a
    context word around them: a title or role before, "(MRN", "(DOB", "'s daughter" or a
    clinical verb ("was admitted") after. Also "Surname, Given" when the lists know both
    (weak when they know one)."""

    CREDENTIAL_SCORE = 0.8
    KNOWN_SCORE = 0.6
    WEAK_SCORE = 0.1
    CONTEXT = [
        "patient", "pt", "name", "mr", "mrs", "ms", "dr", "referred", "referring", "signed",
        "dictated", "attending", "dear", "daughter", "son", "wife", "husband", "mother",
        "father", "sister", "brother", "spouse", "contact", "dob", "mrn", "seen", "saw",
        "discussed", "admitted", "presented", "consented", "declined", "age", "aged", "born",
        "counsellor", "counselor", "phlebotomist", "technologist", "pharmacist", "attention",
        "attn", "grandson", "granddaughter", "caregiver", "spoke", "called",
    ]  # fmt: skip

    #: A capitalised word, possibly possessive ("Barros's").
    _WORD = regex.compile(rf"(?<![\w'’-]){_NAME_WORD}(?![\w-]|['’](?!s\b))")
    _NEXT_WORD = regex.compile(r"[ \t]+([\p{L}'’]+)")
    #: A degree or licence after a name: "Julita Donaldson, RN".
    _CREDENTIAL = regex.compile(
        r",?[ \t]+(?:MD|M\.D\.|DO|RN|NP|PA-C|PhD|Ph\.D\.|MBBS|MBChB|FRCP|FRCPath|FACP|FACMG"
        r"|FCAP|CGC|MSc|DNP)\b"
    )
    #: "Pizzo, Michelle": surname, comma, given name.
    _LAST_COMMA_FIRST = regex.compile(
        rf"(?<![\w'’-])({_NAME_WORD}),[ \t]+({_NAME_WORD})(?:[ \t]+\p{{Lu}}\.)?"
        r"(?![\w-]|['’](?!s\b))"
    )
    #: What may stand between two parts of one name: spaces, a middle initial, particles.
    _GAP = regex.compile(rf"[ \t]+(?:(?:{_INITIAL}|{_PARTICLES})[ \t]+)*")

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], context=self.CONTEXT)
        self.given, self.surnames = _census_names()

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        words = [m.span() for m in self._WORD.finditer(text)]
        results = []
        i = 0
        while i + 1 < len(words):
            end = self._name_end(text, words, i)
            if end - i < 2 or self._names_a_thing(text, words[end - 1][1]):
                i = end
                continue
            first = _fold(text[words[i][0] : words[i][1]])
            if self._CREDENTIAL.match(text, words[end - 1][1]):
                score = self.CREDENTIAL_SCORE
            elif first in self.given or first.split("-")[0] in self.given:  # "Hans-Walter"
                score = self.KNOWN_SCORE
            else:
                score = self.WEAK_SCORE
            results.append(self._result(words[i][0], words[end - 1][1], score))
            i = end
        return results + self._last_comma_first(text)

    def _last_comma_first(self, text: str) -> list[RecognizerResult]:
        """Surname, comma, given name ("Pizzo, Michelle"): sure when both lists know their
        word, weak when one does."""
        results = []
        for m in self._LAST_COMMA_FIRST.finditer(text):
            last, first = _fold(m.group(1)), _fold(m.group(2))
            if _no_name_part(last) or _no_name_part(first) or last in STOP_WORDS:
                continue
            known = (first in self.given) + (last in self.surnames)
            if known:
                score = self.KNOWN_SCORE if known == 2 else self.WEAK_SCORE
                results.append(self._result(m.start(), m.end(), score))
        return results

    def _adjacent(self, text: str, left: tuple[int, int], right: tuple[int, int]) -> bool:
        return self._GAP.fullmatch(text, left[1], right[0]) is not None

    def _name_end(self, text: str, words: Sequence[tuple[int, int]], i: int) -> int:
        """Where the name starting at word ``i`` ends (exclusive): up to three adjacent words,
        none of them a word that is no part of a name."""
        end = i
        while (
            end < len(words)
            and end - i < 3
            and not _no_name_part(_fold(text[words[end][0] : words[end][1]]))
            and (end == i or self._adjacent(text, words[end - 1], words[end]))
        ):
            end += 1
        return max(end, i + 1)

    def _names_a_thing(self, text: str, end: int) -> bool:
        """Whether the word after the name makes it a disease's or an institution's
        ("Erdheim Chester disease", "Benjamin Franklin University")."""
        m = self._NEXT_WORD.match(text, end)
        return m is not None and (
            _fold(m.group(1)) in _INSTITUTIONS or _no_name_part(_fold(m.group(1)))
        )

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            "PERSON",
            start,
            end,
            score,
            # Presidio's context enhancer records its boost in the explanation.
            analysis_explanation=AnalysisExplanation(self.name, score),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


def _name_recognizers() -> list[EntityRecognizer]:
    # \K starts the reported match after the cue: the cue word stays in the text.
    return [
        PatternRecognizer(
            supported_entity="PERSON",
            name="TitledNameRecognizer",
            patterns=[Pattern("name after a title", rf"\b{_TITLES}\.?\s+\K{_TITLED_NAME}", 0.85)],
            global_regex_flags=_FLAGS,
        ),
        PatternRecognizer(
            supported_entity="PERSON",
            name="CuedNameRecognizer",
            patterns=[
                CuedPattern(
                    "name after a cue word",
                    _NAME_CUES,
                    rf"\b\s*[:,-]?\s*\K(?:{_LAST_FIRST}|{_FULL_NAME})(?!\p{{L}})",
                    0.8,
                ),
            ],
            global_regex_flags=_FLAGS,
        ),
        PatternRecognizer(
            supported_entity="PERSON",
            name="CapitalNameRecognizer",
            patterns=[
                CuedPattern(
                    "LAST, FIRST after a label",
                    ["patient", "patient name", "name", "pt"],
                    r"\s*:\s*\K\p{Lu}{2,}(?:[-'’ ]\p{Lu}{2,})?,\s*\p{Lu}{2,}(?:[- ]\p{Lu}{2,})?"
                    r"(?:\s+\p{Lu}\.?)?\b",
                    0.8,
                )
            ],
            global_regex_flags=_FLAGS,
        ),
        NameListRecognizer(),
    ]


# ---- record numbers, addresses, ages ---------------------------------------------------------
_NUMBER = ["number", "no"]
_ID_OR_NUMBER = ["id", "number", "no"]
#: Labels after which a record number, an accession or another identifier follows.
_ID_CUES = [
    "mrn", "ssn", "device id", "device serial", "acc#", "acc #", "accession#", "accession #",
    *_phrases(["medical record", "accession", "requisition", "account"], ["", *_NUMBER]),
    *_phrases(["record", "chart", "unit", "order", "policy", "nhs", "serial"], _NUMBER),
    *_phrases(["license", "licence"], _NUMBER),
    *_phrases(["specimen", "block", "encounter", "barcode"], ["", *_ID_OR_NUMBER]),
    *_phrases(
        ["hospital", "patient", "sample", "case", "lab", "laboratory", "visit", "member",
         "health plan", "insurance", "tube"],
        _ID_OR_NUMBER,
    ),
]  # fmt: skip
#: An identifier value: letters, digits and inner dashes, slashes or dots, with a digit.
_ID_VALUE = r"(?=[\w/.‐-]*\d)[A-Za-z0-9](?:[A-Za-z0-9]|[-‐/.](?=[A-Za-z0-9])){3,24}(?![\w-])"


_ID_CONTEXT = [
    "mrn", "record", "accession", "specimen", "sample", "case", "id", "hospital", "chart",
    "account", "member", "policy", "lab", "block", "requisition", "encounter", "identifier",
    "no", "number", "#",
]  # fmt: skip


def _record_number_recognizer() -> PatternRecognizer:
    return PatternRecognizer(
        supported_entity="RECORD_NUMBER",
        name="RecordNumberRecognizer",
        patterns=[
            CuedPattern(
                "value after a record label",
                _ID_CUES,
                rf"\b\.?\s*(?:[:#=]|\bis\b)?\s*#?\s*\K{_ID_VALUE}",
                0.85,
            ),
            # Surgical pathology accession numbers: "S22-10482", "SP23-004512".
            Pattern("accession number", r"\b[A-Z]{1,3}\d{2}-\d{3,7}\b", 0.6),
            # A bare long number is an identifier only next to a context word.
            Pattern("long number", r"(?<![\w.,])\d{6,12}(?![\w,]|\.\d)", 0.1),
        ],
        context=_ID_CONTEXT,
        global_regex_flags=_FLAGS,
    )


#: Street suffixes: USPS Publication 28's names (singular and plural) and the common
#: abbreviations.
_STREET_SUFFIXES = "|".join(sorted({
    "Alley", "Annex", "Arcade", "Avenue", "Ave", "Bayou", "Bay", "Beach", "Bend", "Bluff",
    "Bluffs", "Bottom", "Boulevard", "Blvd", "Branch", "Bridge", "Brook", "Brooks", "Burg",
    "Burgs", "Bypass", "Camp", "Canyon", "Cape", "Causeway", "Center", "Centers", "Ctr",
    "Circle", "Circles", "Cir", "Cliff", "Cliffs", "Close", "Club", "Common", "Commons",
    "Corner", "Corners", "Course", "Court", "Courts", "Ct", "Cove", "Coves", "Creek",
    "Crescent", "Crest", "Crossing", "Crossroad", "Curve", "Dale", "Dam", "Divide", "Drive",
    "Drives", "Dr", "Estate", "Estates", "Expressway", "Expy", "Extension", "Extensions",
    "Falls", "Ferry", "Field", "Fields", "Flat", "Flats", "Ford", "Fords", "Forest", "Forge",
    "Forges", "Fork", "Forks", "Fort", "Freeway", "Fwy", "Garden", "Gardens", "Gateway",
    "Glen", "Glens", "Green", "Greens", "Grove", "Groves", "Harbor", "Harbors", "Haven",
    "Heights", "Hts", "Highway", "Hwy", "Hill", "Hills", "Hollow", "Inlet", "Island",
    "Islands", "Isle", "Junction", "Junctions", "Key", "Keys", "Knoll", "Knolls", "Lake",
    "Lakes", "Land", "Landing", "Lane", "Ln", "Light", "Lights", "Loaf", "Lock", "Locks",
    "Lodge", "Loop", "Mall", "Manor", "Manors", "Meadow", "Meadows", "Mews", "Mill", "Mills",
    "Mission", "Motorway", "Mount", "Mountain", "Mountains", "Neck", "Orchard", "Oval",
    "Overpass", "Park", "Parks", "Parkway", "Parkways", "Pkwy", "Pass", "Passage", "Path",
    "Pike", "Pine", "Pines", "Place", "Pl", "Plain", "Plains", "Plaza", "Point", "Points",
    "Port", "Ports", "Prairie", "Radial", "Ramp", "Ranch", "Rapid", "Rapids", "Rest", "Ridge",
    "Ridges", "River", "Road", "Roads", "Rd", "Route", "Rte", "Row", "Rue", "Run", "Shoal",
    "Shoals", "Shore", "Shores", "Skyway", "Spring", "Springs", "Spur", "Spurs", "Square",
    "Squares", "Sq", "Station", "Stravenue", "Stream", "Street", "Streets", "St", "Summit",
    "Terrace", "Ter", "Throughway", "Trace", "Track", "Trafficway", "Trail", "Trl", "Trailer",
    "Tunnel", "Turnpike", "Underpass", "Union", "Unions", "Valley", "Valleys", "Via",
    "Viaduct", "View", "Views", "Village", "Villages", "Ville", "Vista", "Walk", "Walks",
    "Wall", "Way", "Ways", "Well", "Wells", "Wharf",
}, key=lambda s: (-len(s), s)))  # fmt: skip
_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH"
    "|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP"
)
_PLACE_WORD = r"\p{Lu}[\p{L}'’.-]*"
_HOUSE = _AT_DIGIT + r"\b\d{1,6}[A-Z]?(?:-\d{1,4})?"
_DIRECTION = r"(?:(?:[NSEW]|NE|NW|SE|SW|North|South|East|West)\.?\s+)?"
_STREET_WORD = rf"(?:(?:{_PLACE_WORD}|\d{{1,3}}(?:st|nd|rd|th))\s+)"
_UNIT = (
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|Floor|Fl|Bldg|Building|#)\.?\s*#?\s*"
    r"[A-Za-z0-9-]+)?"
)
_CITY_STATE = rf"{_PLACE_WORD}(?:\s+{_PLACE_WORD}){{0,2}},\s+(?:{_STATES})\b\.?"
_ZIP = r"\d{5}(?:-\d{4})?\b"


def _address_recognizer() -> PatternRecognizer:
    street = (
        rf"{_HOUSE}\s+{_DIRECTION}{_STREET_WORD}{{1,3}}(?:{_STREET_SUFFIXES})\b\.?"
        rf"(?:\s+(?:[NSEW]|NE|NW|SE|SW)\b\.?)?{_UNIT}"
    )
    return PatternRecognizer(
        supported_entity="STREET_ADDRESS",
        name="StreetAddressRecognizer",
        patterns=[
            Pattern(
                "street[, city, state ZIP]",
                rf"{street}(?:,?\s+{_CITY_STATE}(?:\s+{_ZIP})?)?",
                0.85,
            ),
            # Any street name when the city, state and ZIP follow.
            Pattern(
                "number and words, city, state ZIP",
                rf"{_HOUSE}\s+(?:{_PLACE_WORD}\s+){{1,4}}?{_PLACE_WORD}{_UNIT},?\s+"
                rf"{_CITY_STATE}\s+{_ZIP}",
                0.85,
            ),
            Pattern("city, state ZIP", rf"\b{_CITY_STATE}\s+{_ZIP}", 0.7),
            Pattern("PO box", r"\b(?i:p\.?\s?o\.?\s+box)\s+\d{1,6}\b", 0.8),
            CuedPattern(
                "ZIP after a label",
                ["zip", "zipcode", "zip code", "postal code", "postcode"],
                rf"\s*:?\s*\K{_ZIP}",
                0.8,
            ),
        ],
        global_regex_flags=_FLAGS,
    )


_OLD_AGE = r"(?:9\d|1[01]\d)"


def _age_recognizer() -> PatternRecognizer:
    return PatternRecognizer(
        supported_entity="AGE_OVER_89",
        name="AgeOver89Recognizer",
        patterns=[
            Pattern(
                "NN-year-old",
                rf"{_AT_DIGIT}\b{_OLD_AGE}(?=(?i:[\s-]*(?:years?|yrs?|y)[\s-]*(?:old|of\s+age)\b"
                r"|\s*(?:y/o|y\.o\.|yo\b)))",
                0.85,
            ),
            # "Kiaan O'Brien, 90, nursing-home resident"
            Pattern("Name, NN,", rf"\p{{Lu}}\p{{Ll}}+,\s+\K{_OLD_AGE}(?=,\s)", 0.6),
            Pattern(
                "age NN",
                rf"\b(?i:aged?)\s*[:=]?\s*\K{_OLD_AGE}\b"
                r"(?!\s*(?i:%|percent|months?|days?|weeks?|patients?|cases?|mg|ml))",
                0.8,
            ),
        ],
        global_regex_flags=_FLAGS,
    )


# ---- Presidio's predefined recognisers, tuned -------------------------------------------------
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
#: Written-out dates, which Presidio's DateRecognizer lacks ("March 14, 2023", "14 Mar 2023",
#: "March 2023"). Case-sensitive: "may" and "march" are words.
_WORD_DATES = [
    Pattern("Month d, yyyy", rf"(?-i:\b{_MONTH}\s+{_DAY},?\s+\d{{4}}\b)", 0.85),
    Pattern("d Month yyyy", rf"(?-i:{_AT_DIGIT}\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b)", 0.85),
    Pattern("Month yyyy", rf"(?-i:\b{_MONTH},?\s+(?:19|20)\d{{2}}\b)", 0.6),
    Pattern("Month d", rf"(?-i:\b{_MONTH}\s+{_DAY}\b(?!\s*(?:%|patients|mg)))", 0.5),
    Pattern("d Month", rf"(?-i:{_AT_DIGIT}\b{_DAY}\s+(?:of\s+)?{_MONTH}\b)", 0.5),
    Pattern("dd/Mon/yyyy", rf"(?-i:{_AT_DIGIT}\b{_DAY}[/.-]{_MONTH}[/.-]\d{{2,4}}\b)", 0.7),
]

#: Presidio's URL patterns end on any two-letter country domain with no word boundary after
#: it, so "p.Arg273Cys" holds the URL "p.Ar": here a URL has a scheme, or "www.", or a common
#: lower-case domain, and ends at a word boundary.
_URL_PATTERNS = [
    Pattern("URL with scheme", r"(?i:\bhttps?://[^\s<>\"'()\[\]]+[^\s<>\"'()\[\].,;:!?])", 0.6),
    Pattern("www URL", r"(?i:\bwww\d{0,3}\.[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/[^\s<>\"'()]*)?)", 0.6),
    Pattern(
        "bare domain",
        # Starting only where a dotted run starts, with at most ten labels: "a.a.a..." (any
        # long run of dotted words) is quadratic otherwise.
        r"(?-i:(?<![\w.-])(?:[a-z0-9-]{1,63}\.){1,10}(?:com|org|net|edu|gov|io|info|health"
        r"|co\.uk|org\.uk|nhs\.uk)\b(?:/[^\s<>\"'()]*)?)",
        0.5,
    ),
]


def offline_domains() -> tldextract.TLDExtract:
    """A domain parser on the public suffix list that ``tldextract`` ships (read on first
    use): no download, no cache on disk."""
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recogniser, checking the domain against the public suffix list that
    ``tldextract`` ships: Presidio's own check uses tldextract's default extractor, which
    downloads the current list on first use (and caches it on disk)."""

    _domains = offline_domains()

    def validate_result(self, pattern_text: str) -> bool:
        return self._domains(pattern_text).fqdn != ""


class WindowedPhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recogniser, run only around the runs of seven or more digits (no phone
    number has fewer): python-phonenumbers parses every number-like run of the text, each
    "95% CI 0.30-0.86" of a paper, which takes half a second on a 300,000-character one."""

    #: Seven digits or more, with the separators of phone numbers (not "/": "03/14/2023").
    _CANDIDATE = regex.compile(r"\d(?:[\s().\-]{0,4}\d){6,}")
    #: Characters kept on each side: the matcher reads the neighbours of a number ("PF-" before
    #: "06463922" makes it a drug code, not a phone number).
    MARGIN = 24
    #: More digits in one run than in two phone numbers with their country codes.
    MAX_DIGITS = 30

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for start, end in self._windows(text):
            for r in super().analyze(text[start:end], entities, nlp_artifacts):
                r.start, r.end = r.start + start, r.end + start
                results.append(r)
        return results

    def _windows(self, text: str) -> list[tuple[int, int]]:
        windows: list[tuple[int, int]] = []
        for m in self._CANDIDATE.finditer(text):
            if sum(c.isdigit() for c in m.group()) > self.MAX_DIGITS:
                continue  # a table of figures, not phone numbers
            start, end = max(0, m.start() - self.MARGIN), min(len(text), m.end() + self.MARGIN)
            if windows and start <= windows[-1][1]:
                windows[-1] = (windows[-1][0], end)
            else:
                windows.append((start, end))
        return windows


def _predefined_recognizers() -> list[EntityRecognizer]:
    return [
        OfflineEmailRecognizer(),
        # US and UK national formats, and any number written with its country code ("+49 30
        # ..."). Not Presidio's default regions: with Germany's, "95% CI 0.30-0.86" and
        # "PF-06463922" are valid phone numbers.
        WindowedPhoneRecognizer(
            supported_regions=("US", "GB"),
            context=[*PhoneRecognizer.CONTEXT, "tel", "fax", "pager", "ph", "contact"],
        ),
        UrlRecognizer(patterns=_URL_PATTERNS),
        # IPv4 only: Presidio's IPv6 patterns take exon fusions ("EML4::NTRK3 (e2::e14)") for
        # addresses.
        IpRecognizer(patterns=[p for p in IpRecognizer.PATTERNS if p.name == "IPv4"]),
        DateRecognizer(
            patterns=[*DateRecognizer.PATTERNS, *_WORD_DATES],
            context=[*DateRecognizer.CONTEXT, "dob", "born", "birth", "dated", "admitted"],
        ),
        UsSsnRecognizer(),
        UsNpiRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
    ]


# ---- the de-identifier -----------------------------------------------------------------------
class Deidentifier:
    """Finds the identifiers in a text and replaces each with a typed placeholder.

    Build one and share it: building reads the name lists (a fraction of a second), a call
    takes a few milliseconds for a report. ``scrub`` is safe to call from many threads at
    once: no recogniser keeps state between calls, and the patterns they compile on first use
    are compiled here, by a first call.
    """

    def __init__(self, score_threshold: float = SCORE_THRESHOLD) -> None:
        self.score_threshold = score_threshold
        recognizers = [
            *_predefined_recognizers(),
            _record_number_recognizer(),
            _address_recognizer(),
            _age_recognizer(),
            *_name_recognizers(),
        ]
        self._analyzer = AnalyzerEngine(
            registry=RecognizerRegistry(recognizers=recognizers, supported_languages=["en"]),
            nlp_engine=NoNlpEngine(),
            context_aware_enhancer=SentenceContextEnhancer(),
            supported_languages=["en"],
        )
        self.scrub("Seen by Dr. Ann Lee on 03/14/2023, MRN 4829103, tel 617-555-0142.")

    @property
    def recognizers(self) -> list[str]:
        return sorted(r.name for r in self._analyzer.registry.recognizers)

    def find(self, text: str) -> list[Entity]:
        """The identifiers in ``text``, in order, overlapping findings merged into one."""
        if not text.strip():
            return []
        results = self._analyzer.analyze(
            text=text, language="en", score_threshold=self.score_threshold
        )
        return merge_spans(results)

    def scrub(self, text: str) -> ScrubResult:
        """``text`` with every identifier replaced by its placeholder ("[NAME]", ...)."""
        entities = self.find(text)
        pieces, pos = [], 0
        for entity in entities:
            pieces += [text[pos : entity.start], f"[{entity.type}]"]
            pos = entity.end
        pieces.append(text[pos:])
        return ScrubResult("".join(pieces), entities)


def merge_spans(results: Iterable[RecognizerResult]) -> list[Entity]:
    """One entity per group of overlapping results, covering all of them (what any recogniser
    took for an identifier goes), labelled by its longest member, the most confident on a tie:
    an e-mail address over the URL of its domain, a street address over a name inside it."""
    merged: list[Entity] = []
    label_of: RecognizerResult | None = None
    for r in sorted(results, key=lambda r: (r.start, -r.end)):
        if merged and label_of is not None and r.start < merged[-1].end:
            if (r.end - r.start, r.score) > (label_of.end - label_of.start, label_of.score):
                label_of = r
            end = max(merged[-1].end, r.end)
            merged[-1] = Entity(LABELS[label_of.entity_type], merged[-1].start, end)
        else:
            label_of = r
            merged.append(Entity(LABELS[r.entity_type], r.start, r.end))
    return merged


@cache
def get_deidentifier() -> Deidentifier:
    """The process's one Deidentifier, built on first use."""
    return Deidentifier()


def _scrub(text: str) -> ScrubResult:
    return get_deidentifier().scrub(text)


def _scrub_all(texts: list[str]) -> list[ScrubResult]:
    return [_scrub(text) for text in texts]


class BackgroundScrubber:
    """De-identifies long texts in one helper process, so that a paper is scrubbed on the
    other core while the model reads it: ~70 ms for 100k characters of pure-Python pattern
    matching, which a thread could not overlap (the GIL). The result is the same wherever it
    is computed (the same Deidentifier); only the time differs. So texts shorter than
    ``min_chars`` (~1 ms), texts arriving while the helper starts (seconds, in the background:
    at :meth:`start`, or else at the first long text), and any text the helper fails on (it
    was killed) are scrubbed in the calling thread, and nobody waits for the helper.

    ``submit(text)`` starts the work and returns a function that waits for its result."""

    def __init__(self, min_chars: int) -> None:
        self.min_chars = min_chars
        self._pool: ProcessPoolExecutor | None = None
        self._started: Future[None] | None = None
        self._lock = threading.Lock()

    def submit(self, text: str) -> Callable[[], ScrubResult]:
        if not self.min_chars or len(text) < self.min_chars:
            return partial(_scrub, text)
        return self.submit_many([text])[0]

    def submit_many(self, texts: Sequence[str]) -> list[Callable[[], ScrubResult]]:
        """:meth:`submit` for a batch's texts: one task for the helper, however short each text
        (one hand-off for them all), so that they are scrubbed on the other core while the
        model scores them. Without a ready helper, each is scrubbed when its result is asked."""
        if not self.min_chars or not texts or not self._ready():
            return [partial(_scrub, text) for text in texts]
        try:
            future = self._submit(_scrub_all, list(texts))
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            self._failed(exc)
            return [partial(_scrub, text) for text in texts]
        return [partial(self._result, future, i, text) for i, text in enumerate(texts)]

    def _result(self, future: Future[list[ScrubResult]], i: int, text: str) -> ScrubResult:
        """The helper's result for ``text`` (item ``i`` of its task), or, when the helper
        failed, ``text`` scrubbed here."""
        try:
            return future.result()[i]
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            self._failed(exc)
            return _scrub(text)

    def start(self) -> None:
        """Start the helper process now, in the background (nothing when ``min_chars`` is 0)."""
        if self.min_chars:
            self._ready()

    @property
    def ready(self) -> bool:
        """Whether long texts go to the helper now."""
        with self._lock:
            return self._started is not None and self._started.done() and self._pool is not None

    def close(self) -> None:
        with self._lock:
            pool, self._pool, self._started = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _ready(self) -> bool:
        with self._lock:
            if self._pool is None:
                # spawn: a fork of a threaded server could copy a held lock into the child.
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    1, mp_context=context, initializer=_follow_parent, initargs=(os.getpid(),)
                )
                self._started = self._pool.submit(_warm)
            started = self._started
        if started is None or not started.done():
            return False
        if (exc := started.exception()) is not None:
            self._failed(exc)
            return False
        return True

    def _submit(self, function: Callable[[Any], Any], argument: Any) -> Future[Any]:
        with self._lock:
            if self._pool is None:
                raise RuntimeError("the helper was closed")
            return self._pool.submit(function, argument)

    def _failed(self, exc: BaseException) -> None:
        log.warning("de-identification helper failed (%s): scrubbing in-process", exc)
        self.close()  # the next long text starts a fresh helper


def _warm() -> None:
    get_deidentifier()
    # Then below the server's priority: on a 2-core machine the model's second thread (a lone
    # long text's encoder pass) and this helper want the same core, and a request waits for its
    # model whatever happens, while its scrub has until the model is done. (Not before: built
    # at a low priority on a busy server, the helper took ~10 s to start.)
    with contextlib.suppress(OSError):
        os.nice(HELPER_NICENESS)


def _follow_parent(parent: int, every_s: float = 1.0) -> None:
    """In the helper: exit when the process that started it is gone. A server that is killed
    (SIGKILL, a crash, a supervisor's timeout) cannot shut its pool down, and the helper would
    wait on its queue forever, holding ~450 MB (it holds that queue's write end itself, so it
    never sees an end of file)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()
