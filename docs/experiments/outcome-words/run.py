"""Does the `baseline` gain from the direction of a statement's outcome words?
After the resistance/response confusion and the Predisposing significances, the next loss of
issue 8 is prognosis: half of the Better Outcome items are taken for Poor Outcome. The
`baseline` reads "poor", "shorter", "favorable" as TF-IDF terms among the statement's other
words, normalised over the statement, and their negation not at all; the resistance and
response words gained as dense counts (docs/experiments/direction-words), so this tries the
same for outcome words, with the direction of the hazard and odds ratios the statement quotes.

Additions, in this process only (patching ``oncoclass.models.linear._columns``):

* **outcome counts**: log(1 + count) of poor-outcome words (poor, worse, shorter, unfavo(u)rable,
  adverse, inferior, aggressive, dismal, ...) and better-outcome words (better, favo(u)rable,
  longer, prolonged, superior, good, ...), each apart when a negation cue comes earlier in its
  clause, over the selected text;
* **ratio directions**: log(1 + count) of hazard / odds / risk ratios quoted below 1 and above 1
  ("HR 0.45", "hazard ratio = 2.1", "OR: 3.2");

and, as probes (the README has what each gave): every word's unnormalised count, counts of
five families of evidence-type words, and the shifted response (response words lessened or
heightened by the word before them, words of an acquired resistance).

Same splits as ``quality-civic`` (the selection split held out, 5 grouped folds).

    python docs/experiments/outcome-words/run.py 13,14,15 context
    python docs/experiments/outcome-words/run.py 13,14,15 text
    python docs/experiments/outcome-words/run.py 13 context "+ outcome counts only,+ ratios only"
    python docs/experiments/outcome-words/run.py 13,14,15 text "+ outcome words + shifted response"
    python docs/experiments/outcome-words/run.py 13 text "as it is,+ outcome words" ensemble
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any

from benchmarks.column_probe import compare
from oncoclass.data.records import Sample
from oncoclass.features.text import select_text
from oncoclass.models import linear

_plain = linear._columns

#: Outcome words by their beginnings, at the start of a word: poor outcome (group 1) or better.
_OUTCOME = re.compile(
    r"(?<![^\W_])(?:(poor|wors|shorter|shorten|unfavo|adverse|inferior|aggressiv|dismal|"
    r"detrimental|unfavourabl)|better|favo|longer|prolong|superior|good|excellent)"
)
#: A hazard, odds or risk ratio and the number it is quoted at.
_RATIO = re.compile(
    r"(?<![^\W_])(?:HR|OR|RR|(?i:hazard ratio|odds ratio|relative risk|risk ratio))"
    r"(?![^\W_])[^0-9.;]{0,20}?(\d+(?:\.\d+)?)"
)


def outcome_counts(text: str, counts_on: bool = True, ratios_on: bool = True) -> dict[str, float]:
    tally = dict.fromkeys(
        ["out_poor", "out_better", "out_not_poor", "out_not_better", "ratio_below", "ratio_above"],
        0,
    )
    for clause in linear._CLAUSE_END.split(text.lower()):
        if counts_on:
            negation = linear._NEGATION_WORD.search(clause)
            negated_from = negation.start() if negation else len(clause)
            for cue in _OUTCOME.finditer(clause):
                neg = "not_" if cue.start() > negated_from else ""
                tally[f"out_{neg}{'poor' if cue.group(1) else 'better'}"] += 1
    if ratios_on:
        for m in _RATIO.finditer(text):  # HR, OR, RR in capitals only (not "or 2 cycles")
            value = float(m.group(1))
            if 0 < value < 1:
                tally["ratio_below"] += 1
            elif 1 < value < 100:
                tally["ratio_above"] += 1
    return {k: math.log1p(v) for k, v in tally.items()}


#: Words that say which kind of evidence a statement is, by their beginnings (one group each).
_TYPE = re.compile(
    r"(?<![^\W_])(?:"
    r"(?P<functional>oncogen|transform|tumorigen|driver|activat|vitro|xenograft|mice|murine"
    r"|proliferat|phosphorylat|colony|assay|kinase)"
    r"|(?P<diagnostic>diagnos|distinguish|differentiat|marker|subtyp|defin|characteristic"
    r"|hallmark|classif|frequen|prevalen|recurren)"
    r"|(?P<germline>germline|famil|pedigree|segregat|carrier|proband|heredit|inherit|penetran"
    r"|syndrome|kindred|acmg|(?:pvs1|pp1|pp4)(?![^\W_]))"
    r"|(?P<prognostic>surviv|prognos|outcome|(?:os|pfs|dfs)(?![^\W_])|mortality|death|died|hazard)"
    r"|(?P<treatment>treat|therap|inhibitor|drug|dose|regimen|chemotherap|trial|arm(?![^\W_])))"
)


def _group_counts(pattern: re.Pattern[str], text: str, prefix: str) -> dict[str, float]:
    """log(1 + count) of the matches of each named group of ``pattern`` in ``text``."""
    tally = Counter(m.lastgroup for m in pattern.finditer(text.lower()))
    return {f"{prefix}{k}": math.log1p(tally[k]) for k in pattern.groupindex}


def type_counts(text: str) -> dict[str, float]:
    return _group_counts(_TYPE, text, "type_")


#: A response word after a word that lessens or heightens it ("reduced sensitivity to", "lower
#: response rates", "enhanced sensitivity"), up to two words apart; and words of resistance
#: that came later ("acquired", "secondary", "emerged").
_SHIFTED = re.compile(
    r"(?<![^\W_])(?:(?P<reduced>reduc|decreas|lower|diminish|impair|less|loss of|attenuat|abrogat"
    r"|weak)|(?P<increased>increas|enhanc|higher|greater|heighten|restor))\w*\s+(?:\w+\s+){0,2}?"
    r"(?:sensitiv|respon|efficac|benefit)"
    r"|(?<![^\W_])(?P<acquired>acquir|secondar|emerg)"
)


def shifted_counts(text: str) -> dict[str, float]:
    return _group_counts(_SHIFTED, text, "text_")


def word_counts(words: str) -> dict[str, float]:
    """log(1 + count) of every word of a cleaned text, unnormalised: the learned counterpart of
    the hand-written cue lists (is the gain the cue lists' or any word's count?)."""
    return {f"w_{w}": math.log1p(n) for w, n in Counter(words.split()).items()}


def _with_outcome(
    samples: Sequence[Sample],
    max_tokens: int,
    counts_on: bool = True,
    ratios_on: bool = True,
    words_on: bool = False,
    types_on: bool = False,
    shifted_on: bool = False,
) -> dict[str, list[Any]]:
    cols = _plain(samples, max_tokens)
    for i, s in enumerate(samples):
        selected = select_text(s.text, s.gene, s.variation, max_tokens)
        if counts_on or ratios_on:
            cols["fields"][i].update(outcome_counts(selected, counts_on, ratios_on))
        if words_on:
            cols["fields"][i].update(word_counts(cols["text"][i]))
        if types_on:
            cols["fields"][i].update(type_counts(selected))
        if shifted_on:
            cols["fields"][i].update(shifted_counts(selected))
    return cols


VARIANTS = {
    "as it is": _plain,
    "+ outcome words": _with_outcome,
    "+ outcome counts only": partial(_with_outcome, ratios_on=False),
    "+ ratios only": partial(_with_outcome, counts_on=False),
    "+ word counts only": partial(_with_outcome, counts_on=False, ratios_on=False, words_on=True),
    "+ outcome words + word counts": partial(_with_outcome, words_on=True),
    "+ outcome words + type words": partial(_with_outcome, types_on=True),
    "+ outcome words + shifted response": partial(_with_outcome, shifted_on=True),
}


def main(
    seeds: list[int],
    track: str = "context",
    variants: Sequence[str] = ("as it is", "+ outcome words"),
    model: str = "baseline",
) -> None:
    compare({label: VARIANTS[label] for label in variants}, seeds, track, model)


if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1].split(",")]
    track = sys.argv[2] if len(sys.argv) > 2 else "context"
    variants = sys.argv[3].split(",") if len(sys.argv) > 3 else ["as it is", "+ outcome words"]
    main(seeds, track, variants, *sys.argv[4:5])
