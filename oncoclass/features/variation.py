"""Parse a variation string ("R273C", "p.Arg273Cys", "EML4-ALK Fusion", "Exon 19 Deletion", ...)
into a structured, comparable form with a fixed-length feature vector.

The parser is a short cascade of regular expressions, most specific first:

1. a compound "X and Y", "X OR Y", "NOT X", "A AND (B OR C)" (CIViC's molecular profiles) is
   parsed component by component into ``components``; the first component that parses and is
   not negated sets the type, and the partners of every non-negated component are kept. A
   trailing cDNA note is dropped ("E186* (c.556G>T)" -> "E186*");
2. protein-level changes: a head ``[ref]position[_[ref2]end]`` and a tail saying what happened
   (missense, nonsense, "=", fs, del, dup, ins, delins, splice, trunc, ...). Residues may be
   one-letter, three-letter or full names ("arginine 150 proline" is how papers write it);
3. cDNA splice-site changes (an intronic ``+``/``-`` offset: "c.2251-1G>A", "IVS2+1G>A");
4. exon-level events ("Exon 19 Deletion", "EXON 14 SKIPPING MUTATION");
5. fusions with their partner genes ("EML4-ALK Fusion", "BCR-ABL", "ALK FUSION G1202R", and the
   current HGNC notation "EML4::ALK", with exon breakpoints "EWSR1::FLI1 e7-e6");
6. keywords ("Amplification", "Truncating Mutations", "Loss-of-function", "Promoter ...").

Anything else is ``OTHER``: unknown variations are normal input, and ``parse_variation`` never
raises on any string.

Choices worth knowing:

* several alternatives at one residue ("V600E/K") parse as MISSENSE with the first alternative as
  ``alt``; ``normalized`` keeps all of them ("V600E/K") and ``aliases()`` spells each one;
* a point change inside a fusion ("BCR-ABL T315I") takes the point change's type, with the
  fusion genes in ``partners``; both fusion notations normalise to "EML4-ALK Fusion", so that
  CIViC's 2021 and current spellings compare equal;
* a component of a compound that names another gene ("V600E AND KRAS G12D") keeps that gene in
  its ``gene``; a compound of negated components only ("NOT D816V") is ``OTHER``: it says what
  the variant is not, and its features must not describe D816V;
* a stop-loss ("*214C") is MISSENSE with ref ``"*"``; an unknown consequence ("M1?") is WILDCARD;
* a change whose new residue equals the old one ("Gln193Gln") is SYNONYMOUS with ``alt == ref``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np


class VariationType(StrEnum):
    MISSENSE = "missense"
    NONSENSE = "nonsense"
    SYNONYMOUS = "synonymous"
    FRAMESHIFT = "frameshift"
    INFRAME_DELETION = "inframe_deletion"
    INFRAME_INSERTION = "inframe_insertion"
    DUPLICATION = "duplication"
    DELINS = "delins"
    SPLICE = "splice"
    EXON = "exon"
    FUSION = "fusion"
    AMPLIFICATION = "amplification"
    DELETION = "deletion"  # copy-number loss of the gene, not an in-frame deletion
    OVEREXPRESSION = "overexpression"
    EXPRESSION = "expression"  # loss / underexpression / (epigenetic) silencing / expression
    PROMOTER = "promoter"
    TRUNCATING = "truncating"
    WILDCARD = "wildcard"  # any change at one residue: "V600"
    MUTATION = "mutation"  # generic: "Mutations", "Loss-of-function", "Gain-of-function"
    OTHER = "other"


# --- amino-acid tables -------------------------------------------------------------------------

ONE_TO_THREE: dict[str, str] = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
    "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
    "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
}  # fmt: skip
_THREE_TO_ONE = {three.lower(): one for one, three in ONE_TO_THREE.items()}

#: Full names, as papers write them ("arginine 150 proline", "Glu 272 to stop").
_NAME_TO_ONE = {
    "alanine": "A", "arginine": "R", "asparagine": "N", "aspartic acid": "D", "aspartate": "D",
    "aspartic": "D", "cysteine": "C", "glutamine": "Q", "glutamic acid": "E", "glutamate": "E",
    "glutamic": "E", "glycine": "G", "histidine": "H", "isoleucine": "I", "leucine": "L",
    "lysine": "K", "methionine": "M", "phenylalanine": "F", "proline": "P", "serine": "S",
    "threonine": "T", "tryptophan": "W", "tyrosine": "Y", "valine": "V",
}  # fmt: skip
_STOP_WORDS = {"*": "*", "x": "*", "ter": "*", "stop": "*"}

#: Physico-chemical groups of the residues (the "stop" group is the stop codon itself).
AA_GROUPS: dict[str, str] = {
    **dict.fromkeys("AVILMFW", "hydrophobic"),
    **dict.fromkeys("STNQY", "polar"),
    **dict.fromkeys("KRH", "positive"),
    **dict.fromkeys("DE", "negative"),
    **dict.fromkeys("GPC", "special"),
    "*": "stop",
}
GROUP_NAMES: tuple[str, ...] = ("hydrophobic", "polar", "positive", "negative", "special", "stop")
_CHARGE = {**dict.fromkeys("KRH", 1), **dict.fromkeys("DE", -1)}


def three_to_one(code: str) -> str | None:
    """One-letter code of a three-letter code ("Arg" -> "R", "Ter" -> "*"), case-insensitive;
    None for anything else."""
    return _THREE_TO_ONE.get(code.strip().lower())


def _to_one(token: str) -> str:
    """One-letter code of a residue token the grammar below accepted (one/three-letter, name)."""
    t = " ".join(token.lower().split())
    if len(t) == 1:
        return t.upper()
    return _THREE_TO_ONE.get(t) or _NAME_TO_ONE.get(t) or _STOP_WORDS[t]


def _seq_to_one(seq: str) -> str:
    """Residues of an inserted sequence: "FQEA" -> "FQEA", "PheGln" -> "FQ".

    Three-letter codes only when written Xxx-cased: "ALA" could be Ala or A-L-A."""
    if re.fullmatch(r"(?:[A-Z][a-z]{2})+", seq) and all(
        three_to_one(seq[i : i + 3]) for i in range(0, len(seq), 3)
    ):
        return "".join(three_to_one(seq[i : i + 3]) or "" for i in range(0, len(seq), 3))
    return seq.upper()


# --- the protein-change grammar ----------------------------------------------------------------


def _alternation(words: list[str]) -> str:
    return "|".join(
        re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True)
    )


_ONE = "ACDEFGHIKLMNPQRSTVWY"
_NAMES = _alternation(list(_NAME_TO_ONE))
_THREES = _alternation([t for t in _THREE_TO_ONE if t != "ter"])
_AA = rf"(?:{_NAMES}|{_THREES}|[{_ONE}])"  # a residue that can be the new one
_REF = rf"(?:{_NAMES}|{_THREES}|ter|[{_ONE}X*])"  # ... or the old one (X: unknown, *: stop)
_STOP = r"(?:\*|X|Ter|stop)"
_SEQ = rf"(?:(?:{_THREES})+|[{_ONE}]+)"  # one reading only: no backtracking blow-up
_POS = r"\d{1,6}"  # bounded: int() of a huge digit string raises (and no protein is that long)

_HEAD = re.compile(
    rf"(?P<ref>{_REF})?[\s(-]*(?P<pos>{_POS})\)?"
    rf"(?:[_-](?P<ref2>{_REF})?(?P<pos2>{_POS}))?\s*(?P<tail>.*)",
    re.I | re.S,
)
# "Phe-->Ser at codon 15", "methionine-->valine substitution at codon 404"
_ARROW = re.compile(
    rf"(?P<ref>{_AA})\s*-+>\s*(?P<alt>{_AA})(?:\s+substitution)?\s+at\s+(?:the\s+)?codon\s+(?P<pos>{_POS})",
    re.I,
)
_CONNECT = r"(?:\s*(?:-+>|\bto\b|-))*\s*"  # "-->", "to", "-" between position and new residue

_T = VariationType
#: What a tail after the position means, tried in order (the first full match wins).
_TAILS: list[tuple[re.Pattern[str], VariationType]] = [
    (re.compile(r"=", re.I), _T.SYNONYMOUS),
    (re.compile(r"\?", re.I), _T.WILDCARD),
    (re.compile(rf"(?P<alt>{_AA})?\s*fs\s*{_STOP}?\s*(?P<n>\d{{1,6}}|\?)?\s*{_STOP}?", re.I),
     _T.FRAMESHIFT),
    (re.compile(rf"{_CONNECT}{_STOP}", re.I), _T.NONSENSE),
    (re.compile(rf"{_CONNECT}(?P<alt>{_AA})(?:\s*{_POS})?", re.I), _T.MISSENSE),
    (re.compile(rf"(?P<alts>[{_ONE}](?:/[{_ONE}])+)", re.I), _T.MISSENSE),
    (re.compile(rf"(?:delins\s*|>\s*)(?P<seq>{_SEQ})", re.I), _T.DELINS),
    (re.compile(rf"del(?:{_SEQ}|\d+)?", re.I), _T.INFRAME_DELETION),
    (re.compile(rf"dup(?:{_SEQ})?", re.I), _T.DUPLICATION),
    (re.compile(rf"ins(?P<seq>{_SEQ})?\d*", re.I), _T.INFRAME_INSERTION),
    (re.compile(r"_?splic(?:e|ing)\b.*", re.I | re.S), _T.SPLICE),
    (re.compile(r"trunc", re.I), _T.TRUNCATING),
    (re.compile(rf"(?P<seq>[{_ONE}]{{2,}})", re.I), _T.DELINS),  # "K558NP": K558 -> N, P
]  # fmt: skip
_SPAN_TYPES = {_T.DELINS, _T.INFRAME_DELETION, _T.DUPLICATION, _T.INFRAME_INSERTION,
               _T.SPLICE, _T.TRUNCATING, _T.FRAMESHIFT}  # fmt: skip
_EVENT_SUFFIX = {_T.INFRAME_DELETION: "del", _T.DUPLICATION: "dup", _T.INFRAME_INSERTION: "ins",
                 _T.DELINS: "delins", _T.SPLICE: "_splice", _T.TRUNCATING: "trunc"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ParsedVariation:
    """A variation in structured form. ``normalized`` is the canonical short spelling, so that
    "V600E", "Val600Glu" and "p.V600E" compare equal."""

    raw: str
    type: VariationType
    normalized: str
    ref: str | None = None
    alt: str | None = None
    position: int | None = None
    end_position: int | None = None
    exon: int | None = None
    partners: tuple[str, ...] = ()
    #: The parts of a compound ("V600E AND Amplification", "NOT D816V"), in order; empty for a
    #: single variation.
    components: tuple[VariationComponent, ...] = ()

    @property
    def is_known_shape(self) -> bool:
        return self.type is not VariationType.OTHER

    @property
    def is_compound(self) -> bool:
        return bool(self.components)

    def present(self) -> tuple[ParsedVariation, ...]:
        """The variations this one asserts are present: itself, or a compound's non-negated
        components (what a knowledge base may match on; never a NOT component)."""
        if not self.components:
            return (self,)
        return tuple(c.variation for c in self.components if not c.negated)

    def aliases(self) -> list[str]:
        """Spellings of this variation to look for in text or to match a knowledge base."""
        names: list[str] = []
        ref, pos = self.ref, self.position
        point = pos is not None and ref is not None and self.end_position is None
        if (
            point
            and not self.components
            and self.type in (_T.MISSENSE, _T.SYNONYMOUS, _T.NONSENSE, _T.WILDCARD)
        ):
            alts = {
                _T.MISSENSE: _alternatives(self.normalized, self.alt),
                _T.SYNONYMOUS: ["="],
                _T.NONSENSE: ["*", "X"],
                _T.WILDCARD: [""],
            }[self.type]
            ref3 = ONE_TO_THREE.get(ref, ref)
            forms: list[str] = []
            for alt in alts:
                alt3 = {"*": "Ter", "X": "*"}.get(alt, ONE_TO_THREE.get(alt, alt))
                forms += [f"{ref}{pos}{alt}", f"{ref3}{pos}{alt3}"]
                if alt == "*":
                    forms.append(f"{ref3}{pos}*")
            names = [self.normalized, *forms, *(f"p.{f}" for f in forms), f"{ref}{pos}"]
        elif self.type is _T.FRAMESHIFT and pos is not None:
            short = f"{ref or ''}{pos}fs"
            names = [self.normalized, short, f"p.{self.normalized}", f"p.{short}"]
            if ref in ONE_TO_THREE:
                names.append(f"{ONE_TO_THREE[ref]}{pos}fs")
        elif self.components:  # each component's spellings, never a negated one's
            names = [self.normalized]
            for part in self.present():
                names += part.aliases()
        elif self.type is _T.FUSION and len(self.partners) > 1:
            names = [self.normalized, "-".join(self.partners), "::".join(self.partners)]
        else:
            names = [self.normalized]
        names.append(self.raw.strip())
        unique: dict[str, str] = {}
        for name in names:
            if name:
                unique.setdefault(name.lower(), name)
        return list(unique.values())

    def features(self) -> np.ndarray:
        """The fixed-length float32 vector of ``FEATURE_NAMES`` (values in about [-1, 1])."""
        v = dict.fromkeys(FEATURE_NAMES, 0.0)
        v[f"type_{self.type.value}"] = 1.0
        if self.position is not None:
            v["has_position"] = 1.0
            v["log_position"] = math.log1p(abs(self.position)) / 10
        if self.end_position is not None and self.position is not None:
            v["is_range"] = 1.0
            v["log_span"] = math.log1p(abs(self.end_position - self.position) + 1) / 10
        elif self.position is not None:
            v["log_span"] = math.log1p(1) / 10
        for side, aa in (("ref", self.ref), ("alt", self.alt)):
            group = AA_GROUPS.get(aa[:1]) if aa else None
            if group:
                v[f"{side}_{group}"] = 1.0
        if self.ref and self.alt and self.ref in AA_GROUPS and self.alt[:1] in AA_GROUPS:
            v["charge_change"] = (_CHARGE.get(self.alt[:1], 0) - _CHARGE.get(self.ref, 0)) / 2
            v["group_change"] = float(AA_GROUPS[self.ref] != AA_GROUPS[self.alt[:1]])
        if self.alt and len(self.alt) > 1 and self.type is not _T.MISSENSE:
            v["log_inserted_length"] = math.log1p(len(self.alt)) / 5
        v["is_stop_gain"] = float(self.type is _T.NONSENSE)
        v["is_frameshift"] = float(self.type is _T.FRAMESHIFT)
        v["is_truncating_like"] = float(
            self.type in (_T.NONSENSE, _T.FRAMESHIFT, _T.TRUNCATING, _T.SPLICE)
        )
        if self.exon is not None:
            v["has_exon"] = 1.0
            v["exon_number"] = min(self.exon, 60) / 30
        v["has_partners"] = float(bool(self.partners))
        return np.fromiter(v.values(), dtype=np.float32, count=len(FEATURE_NAMES))


@dataclass(frozen=True, slots=True)
class VariationComponent:
    """One part of a compound variation, with how it joins the parts before it."""

    variation: ParsedVariation
    #: "" for the first component, else "and" / "or" (joining it to the previous one).
    operator: str = ""
    #: Under a NOT: the variant must be absent (never matched, never featurised).
    negated: bool = False
    #: The gene the component names when it is not the compound's gene ("KRAS G12D").
    gene: str | None = None
    #: Groups opened before / closed after it: "A AND (B OR C)" -> B opens 1, C closes 1.
    opens: int = 0
    closes: int = 0

    @property
    def normalized(self) -> str:
        name = self.variation.normalized
        return f"{self.gene} {name}" if self.gene else name


def _alternatives(normalized: str, alt: str | None) -> list[str]:
    """The new residues of a missense ("V600E/K" -> ["E", "K"])."""
    m = re.search(r"\d([A-Z*](?:/[A-Z*])+)$", normalized)
    return m.group(1).split("/") if m else [alt or ""]


#: The feature vector, in order:
#: ``type_*``            one-hot of ``VariationType``;
#: ``has_position``      a residue position is known; ``log_position`` = log1p(position) / 10;
#: ``is_range``          the change spans residues start_end; ``log_span`` = log1p(length) / 10;
#: ``ref_*``, ``alt_*``  one-hot of the old / new residue's group (``GROUP_NAMES``), if known;
#: ``charge_change``     (charge(alt) - charge(ref)) / 2, with K, R, H = +1 and D, E = -1;
#: ``group_change``      the residue changes physico-chemical group;
#: ``log_inserted_length`` log1p(number of inserted residues) / 5 (ins / delins of 2 or more);
#: ``is_stop_gain``, ``is_frameshift``, ``is_truncating_like`` (nonsense, fs, truncating, splice);
#: ``has_exon``, ``exon_number`` = exon / 30; ``has_partners`` (a fusion, or a change within one).
FEATURE_NAMES: tuple[str, ...] = (
    *(f"type_{t.value}" for t in VariationType),
    "has_position", "log_position", "is_range", "log_span",
    *(f"ref_{g}" for g in GROUP_NAMES), *(f"alt_{g}" for g in GROUP_NAMES),
    "charge_change", "group_change", "log_inserted_length",
    "is_stop_gain", "is_frameshift", "is_truncating_like",
    "has_exon", "exon_number", "has_partners",
)  # fmt: skip


def _protein_change(s: str, raw: str) -> ParsedVariation | None:
    """A protein-level change ("R273C", "p.Arg273Cys", "E746_A750del", "K1423Rfs*5", ...)."""
    s = re.sub(r"^p\.\s*", "", s, flags=re.I)
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1].strip()
    if m := _ARROW.fullmatch(s):
        return _point(raw, _T.MISSENSE, _to_one(m["ref"]), _to_one(m["alt"]), int(m["pos"]))
    head = _HEAD.fullmatch(s)
    if head is None:
        return None
    ref = _to_one(head["ref"]) if head["ref"] else None
    pos = int(head["pos"])
    end = int(head["pos2"]) if head["pos2"] else None
    ref2 = _to_one(head["ref2"]) if head["ref2"] else None
    tail = head["tail"].strip()
    if not tail:  # "V600": any change at one residue
        return _point(raw, _T.WILDCARD, ref, None, pos) if ref and end is None else None
    for pattern, vtype in _TAILS:
        m = pattern.fullmatch(tail)
        if m is None or (end is not None and vtype not in _SPAN_TYPES):
            continue
        groups = m.groupdict()
        start = f"{ref or ''}{pos}" + (f"_{ref2 or ''}{end}" if end is not None else "")
        if vtype is _T.WILDCARD and ref:
            return _point(raw, vtype, ref, None, pos)
        if vtype is _T.SYNONYMOUS and ref:
            return _point(raw, vtype, ref, ref, pos)
        if vtype is _T.NONSENSE and ref:
            return _point(raw, vtype, ref, "*", pos)
        if vtype is _T.MISSENSE and ref:
            alts = groups.get("alts")
            if alts:
                alt = alts.upper()
                return ParsedVariation(raw, vtype, f"{ref}{pos}{alt}", ref, alt[0], pos)
            alt = _to_one(groups["alt"])
            return _point(raw, _T.SYNONYMOUS if alt == ref else vtype, ref, alt, pos)
        if vtype is _T.FRAMESHIFT:
            alt = _to_one(groups["alt"]) if groups["alt"] else None
            n = groups["n"]
            norm = f"{start}{alt or ''}fs" + (f"*{n}" if n and n != "?" else "")
            return ParsedVariation(raw, vtype, norm, ref, alt, pos, end)
        if vtype in _EVENT_SUFFIX:
            seq = _seq_to_one(groups["seq"]) if groups.get("seq") else None
            norm = start + _EVENT_SUFFIX[vtype] + (seq or "" if vtype in _SEQ_KEPT else "")
            return ParsedVariation(raw, vtype, norm, ref, seq, pos, end)
    return None


_SEQ_KEPT = {_T.DELINS, _T.INFRAME_INSERTION}  # a deleted / duplicated sequence is redundant


def _point(
    raw: str, vtype: VariationType, ref: str | None, alt: str | None, pos: int
) -> ParsedVariation:
    suffix = {_T.SYNONYMOUS: "=", _T.NONSENSE: "*", _T.WILDCARD: ""}.get(vtype, alt or "")
    return ParsedVariation(raw, vtype, f"{ref or ''}{pos}{suffix}", ref, alt, pos)


# --- other shapes -------------------------------------------------------------------------------

_CDNA_SPLICE = re.compile(r"(?:c\.|ivs)\S*\d[+-](?:\d|\?)", re.I)
_EXON = re.compile(
    r"(?:exon|ex)\s*(?P<n>\d{1,3})(?:\s*-\s*(?P<to>\d{1,3}))?\b\s*(?P<rest>.*)", re.I | re.S
)
#: A gene symbol ("NKX2-1" included) that does not look like a residue change ("C1156Y").
_SYMBOL = r"(?![A-Z]\d+[A-Z]?\b)[A-Z][A-Z0-9]{2,}(?:-\d{1,2}\b)?"
#: "EML4-ALK", "EML4::ALK", "BCR-ABL T315I", "?-ALK" (no "Fusion" word: genes must look like
#: gene symbols).
_FUSION_BARE = re.compile(
    rf"(?P<names>(?:{_SYMBOL}|\?)(?:\s*(?:::|[-?/])\s*(?:{_SYMBOL}|\?))+)(?:\s+(?P<rest>.+))?",
    re.S,
)
#: Exon breakpoints after a fusion, 5' partner first: "EWSR1::FLI1 e7-e6".
_BREAKPOINT = re.compile(r"e(?P<five>\d{1,3})\s*-\s*e(?P<three>\d{1,3})", re.I)
_PARTNER_SEPARATOR = re.compile(r"\s*(?:::|[-?/])\s*")
#: "EML4-ALK Fusion", "ALK FUSIONS", "ALK FUSION G1202R", "Delta-NTRK1 Fusion", "PAX8-PPAR? Fusion"
#: (a "?" is an unknown partner or a mangled dash). Pieces hold no separator: linear matching.
_FUSION_NAMED = re.compile(
    r"(?P<names>(?:\?\s*-\s*)?[^\s?-]+\??(?:\s*[-?]\s*[^\s?-]+\??)*)\s+(?i:fusions?)"
    r"(?:\s+(?P<rest>.+))?",
    re.S,
)
#: A gene symbol in front of a protein change: "JAK2 F694L".
_GENE_PREFIX = re.compile(rf"{_SYMBOL}\s+(?P<rest>.+)", re.S)

#: Keyword shapes, tried in order with ``re.search`` (so "KINASE DOMAIN MUTATION" is a MUTATION).
_KEYWORDS: list[tuple[re.Pattern[str], VariationType]] = [
    (re.compile(p, re.I), t)
    for p, t in [
        (r"\b(?:loss|gain|switch)[\s-]+of[\s-]+function\b", _T.MUTATION),
        (r"splic", _T.SPLICE),
        (r"frame[\s-]*shift|^fs$", _T.FRAMESHIFT),
        (r"truncat", _T.TRUNCATING),
        (r"nonsense|stop[\s-]gain", _T.NONSENSE),
        (r"promoter", _T.PROMOTER),
        (r"\b(?:kdd|itd|dup)\b|duplication|tandem", _T.DUPLICATION),
        (r"fusion|rearrangement", _T.FUSION),
        (r"amplif|copy[\s-]number[\s-]gain|^gain$", _T.AMPLIFICATION),
        (r"over[\s-]?expression", _T.OVEREXPRESSION),
        (r"expression|methylation|silencing|^loss$", _T.EXPRESSION),
        (r"^delins$", _T.DELINS),
        (r"^del$|in[\s-]?frame[\s-]+del", _T.INFRAME_DELETION),
        (r"deletion|\bdel\b|copy[\s-]number[\s-]loss|\bloh\b|loss of heterozygosity", _T.DELETION),
        (r"^ins$|insertion", _T.INFRAME_INSERTION),
        (r"missense", _T.MISSENSE),
        (r"synonymous|silent", _T.SYNONYMOUS),
        (r"\bmut(?:ation|ations|ant|ants)?\b|alteration|variant|inactivat|activating", _T.MUTATION),
    ]
]  # fmt: skip


def _phrase_key(s: str) -> str:
    """Spelling-insensitive key of a phrase: "TRUNCATING MUTATION" ~ "Truncating Mutations"."""
    return re.sub(r"s\b", "", " ".join(re.sub(r"[-_]", " ", s.lower()).split()))


#: The spelling that a bare keyword normalises to (the MSKCC / OncoKB spelling).
_CANONICAL = {
    _phrase_key(k): v
    for v, keys in {
        "Amplification": ["amplification", "amplified"],
        "Deletion": ["deletion", "deletions", "copy number loss"],
        "Fusions": ["fusion", "fusions"],
        "Truncating Mutations": ["truncating mutations", "truncating"],
        "Mutations": ["mutation", "mutations"],
        "Loss-of-function": ["loss of function"],
        "Gain-of-function": ["gain of function"],
        "Switch-of-function": ["switch of function"],
        "Promoter Mutations": ["promoter mutations", "promoter"],
        "Frameshift": ["frameshift", "frameshift mutations", "frame shift"],
        "Splice": ["splice", "splice site", "splice site mutations", "splicing"],
        "Overexpression": ["overexpression", "over expression"],
    }.items()
    for k in keys
}


def _tidy(s: str) -> str:
    """Canonical spelling of a keyword phrase; all-caps phrases get capitalised words."""
    if canonical := _CANONICAL.get(_phrase_key(s)):
        return canonical
    if s.isupper():
        return " ".join(w.capitalize() if w.isalpha() else w for w in s.split())
    return s


def _keyword_type(s: str) -> VariationType | None:
    return next((t for pattern, t in _KEYWORDS if pattern.search(s)), None)


def _partner_names(names: str) -> tuple[str, ...]:
    """Split "TRB-NKX2-1" into ("TRB", "NKX2-1"): a purely numeric piece belongs to its left."""
    parts: list[str] = []
    for piece in _PARTNER_SEPARATOR.split(names):
        if piece.isdigit() and parts:
            parts[-1] += f"-{piece}"
        elif piece and piece != "?":
            parts.append(piece)
    return tuple(parts)


def _fusion(s: str, raw: str) -> ParsedVariation | None:
    """A fusion, or a change within a fusion ("BCR-ABL T315I")."""
    m = _FUSION_NAMED.fullmatch(s) or _FUSION_BARE.fullmatch(s)
    if m is None:
        return None
    partners = _partner_names(m["names"])
    if not partners or any(_keyword_type(p) for p in partners):
        return None  # "TRUNCATING FUSION" names no gene
    if m["rest"] and (inner := _protein_change(m["rest"], raw)):
        return replace(inner, partners=partners)
    name = f"{'-'.join(partners)} Fusion"
    if m["rest"] and (exons := _BREAKPOINT.fullmatch(m["rest"].strip())):
        five, three = int(exons["five"]), int(exons["three"])
        return ParsedVariation(
            raw, _T.FUSION, f"{name} e{five}-e{three}", exon=five, partners=partners
        )
    return ParsedVariation(raw, _T.FUSION, name, partners=partners)


# --- compounds ----------------------------------------------------------------------------------

#: What joins the components of a compound: "V600E and AMPLIFICATION", "L858R OR Exon 19 Deletion".
_JOIN = re.compile(r"\s+(and|or)\s+", re.I)
_NOT = re.compile(r"not(?:\s+|(?=\())", re.I)
#: A gene symbol in front of a component ("KRAS G12D", "NRAS Mutation"); not a residue change.
_COMPONENT_GENE = re.compile(
    r"(?P<gene>(?![A-Z]\d+[A-Z*]?\b)[A-Z][A-Z0-9]+(?:-\d{1,2})?)\s+(?P<rest>\S.*)", re.S
)


def _compound(s: str, raw: str, gene: str | None) -> ParsedVariation | None:
    """A compound: components joined by and / or, any of them under NOT or in parentheses.

    None when ``s`` is one plain variation. A NOT before a group negates each component in it.
    """
    pieces = _JOIN.split(s)
    texts, operators = pieces[0::2], ["", *(op.lower() for op in pieces[1::2])]
    components: list[VariationComponent] = []
    depth = 0
    negated_groups: list[int] = []  # the depths of the open groups that a NOT applies to
    for text, operator in zip(texts, operators, strict=True):
        opens, negated = 0, False
        while True:  # leading "(" and "NOT", in any order
            text = text.lstrip()
            if text.startswith("("):
                opens += 1
                if negated:  # "NOT ( A OR B )": the NOT belongs to the group
                    negated_groups.append(depth + opens)
                    negated = False
                text = text[1:]
            elif m := _NOT.match(text):
                negated = True
                text = text[m.end() :]
            else:
                break
        closes = 0
        text = text.rstrip()
        while text.endswith(")") and text.count(")") > text.count("("):  # "V600K )"
            text = text[:-1].rstrip()
            closes += 1
        if not text:
            return None  # a dangling operator or an empty group: not a compound
        depth += opens
        component_gene, parsed = _component(text, gene)
        components.append(
            VariationComponent(
                parsed, operator, negated or bool(negated_groups), component_gene, opens, closes
            )
        )
        depth = max(depth - closes, 0)
        negated_groups = [d for d in negated_groups if d <= depth]
    if len(components) == 1 and not components[0].negated:
        return None
    present = [c.variation for c in components if not c.negated]
    partners = tuple(dict.fromkeys(p for v in present for p in v.partners))
    normalized = "".join(
        (f" {c.operator} " if c.operator else "")
        + "(" * c.opens
        + ("not " if c.negated else "")
        + c.normalized
        + ")" * c.closes
        for c in components
    )
    first = next((v for v in present if v.is_known_shape), None)
    if first is None:
        return ParsedVariation(
            raw, _T.OTHER, normalized, partners=partners, components=tuple(components)
        )
    return replace(
        first, raw=raw, normalized=normalized, partners=partners, components=tuple(components)
    )


def _component(text: str, gene: str | None) -> tuple[str | None, ParsedVariation]:
    """(the other gene it names or None, the parsed component) of one part of a compound."""
    m = _COMPONENT_GENE.fullmatch(text)
    if (
        m is not None
        and (not gene or m["gene"].upper() != gene.strip().upper())
        and _keyword_type(m["gene"]) is None
        and not _EXON.match(m["gene"])
    ):
        inner = _parse(m["rest"], m["rest"], m["gene"])
        if inner.is_known_shape:
            return m["gene"], inner
    return None, _parse(text, text, gene)


def _parse(s: str, raw: str, gene: str | None) -> ParsedVariation:
    """One variation (not a compound)."""
    # A cDNA note after the protein change adds nothing: "E186* (c.556G>T)", "R474C c.1420C>T".
    core = re.sub(r"^(.*?\S)\s*(?:\((?:c|p)\.[^()]*\)|\bc\.\S+)$", r"\1", s, flags=re.S)
    if found := _protein_change(core, raw):
        return found
    if _CDNA_SPLICE.match(core):
        return ParsedVariation(raw, _T.SPLICE, core)
    if m := _EXON.fullmatch(core):
        rest = _tidy(m["rest"].strip())
        exons = f"{int(m['n'])}" + (f"-{int(m['to'])}" if m["to"] else "")
        norm = f"Exon {exons}" + (f" {rest[:1].upper()}{rest[1:]}" if rest else "")
        return ParsedVariation(raw, _T.EXON, norm, exon=int(m["n"]))
    keyword = _keyword_type(core)
    if keyword in (None, _T.FUSION) and (found := _fusion(core, raw)):
        return found
    if gene and (m := re.fullmatch(rf"{re.escape(gene.strip())}\s+(.+)", core, re.I | re.S)):
        inner = _parse(m[1], raw, None)  # "NT5C2 MUTATION" for gene NT5C2 (strip it once)
        if inner.is_known_shape:
            return inner
    if (
        keyword is None
        and (m := _GENE_PREFIX.fullmatch(core))
        and (found := _protein_change(m["rest"], raw))
    ):
        return found
    if keyword is not None:
        partners = (gene.strip(),) if keyword is _T.FUSION and gene and gene.strip() else ()
        return ParsedVariation(raw, keyword, _tidy(core), partners=partners)
    return ParsedVariation(raw, _T.OTHER, raw.strip())


def parse_variation(text: str, gene: str | None = None) -> ParsedVariation:
    """Parse a variation string; ``gene`` helps with strings that repeat it ("JAK2 V617F").

    Never raises: anything unrecognised is ``VariationType.OTHER`` with ``normalized`` the
    stripped input.
    """
    raw = text if isinstance(text, str) else str(text)
    s = " ".join(raw.split())
    if not s:
        return ParsedVariation(raw, _T.OTHER, "")
    return _compound(s, raw, gene) or _parse(s, raw, gene)
