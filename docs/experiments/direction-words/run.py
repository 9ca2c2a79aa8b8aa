"""Does the `baseline` gain from the direction of the statement's words about the item's drug?
Issue 8's largest loss is resistance taken for sensitivity among Predictive items. The
baseline reads the words next to the drug (`near_drugs`, four on each side, bigrams), not
their scope: "did not respond to erlotinib" and "responded to erlotinib" share "respond".

Two additions, in this process only (patching ``oncoclass.models.linear._columns``):

* the words of every clause (between , ; : . ! ?) that names the item's drug, those after a
  negation cue ("not", "no", "failed to", "lack of", "without", ...) prefixed "not_", added to
  the `near_drugs` column (its TF-IDF then sees "not_respond");
* dense counts (log1p) of resistance cues (resist*, refractor*, insensitiv*, progress*,
  relapse*) and sensitivity cues (sensitiv*, respon*, benefit*, remission, efficac*,
  shrink*, regress*, improv*), each negated or not, in the drug's clauses and in the whole
  selected text.

Same splits as ``quality-civic`` (the selection split held out, 5 grouped folds), context
track (the text-only track gives no drugs).

    python docs/experiments/direction-words/run.py 13,14,15            # context track
    python docs/experiments/direction-words/run.py 13,14,15 text       # text-only track
    python docs/experiments/direction-words/run.py 13 context \
        "+ drug clauses only,+ cue counts only"                          # which part helps
    python docs/experiments/direction-words/run.py 13 text "+ direction words" ensemble
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any

from benchmarks.column_probe import compare
from oncoclass.data.records import Sample
from oncoclass.features.text import clean_text, select_text
from oncoclass.models import linear

_plain = linear._columns

_CLAUSES = re.compile(r"[,;:.!?()]+\s")
_NEGATION = re.compile(
    r"^(?:not|no|never|without|lack|lacked|lacking|absence|failed|fail|fails|unable|neither|nor"
    r"|cannot|didn|doesn|don|isn|wasn|weren|aren)$"
)
_RESIST = re.compile(r"^(?:resist|refractor|insensitiv|progress|relaps|nonrespon|unrespons)")
_SENSE = re.compile(
    r"^(?:sensitiv|respon|benefit|remission|efficac|shrink|regress|improv|effective|durable)"
)


def _clauses(text: str) -> list[list[str]]:
    """The clauses of ``text`` as cleaned words, those after a negation cue prefixed "not_"."""
    out = []
    for clause in _CLAUSES.split(text):
        words, negated = [], False
        for w in clean_text(clause).split():
            if _NEGATION.match(w):
                negated = True
                continue
            words.append(f"not_{w}" if negated else w)
        out.append(words)
    return out


def _counts(words: Sequence[str], prefix: str) -> dict[str, float]:
    tally = dict.fromkeys(
        [f"{prefix}{k}" for k in ("resist", "sense", "not_resist", "not_sense")], 0
    )
    for w in words:
        negated, base = w.startswith("not_"), w.removeprefix("not_")
        kind = "resist" if _RESIST.match(base) else "sense" if _SENSE.match(base) else None
        if kind:
            tally[f"{prefix}{'not_' if negated else ''}{kind}"] += 1
    return {k: math.log1p(v) for k, v in tally.items()}


def _with_direction(
    samples: Sequence[Sample], max_tokens: int, clauses_on: bool = True, counts_on: bool = True
) -> dict[str, list[Any]]:
    cols = _plain(samples, max_tokens)
    for i, s in enumerate(samples):
        clauses = _clauses(select_text(s.text, s.gene, s.variation, max_tokens))
        names = [clean_text(d).split() for d in s.drugs if clean_text(d)]
        about_drug = [
            c
            for c in clauses
            if any(
                c[j : j + len(n)] == n or [w.removeprefix("not_") for w in c[j : j + len(n)]] == n
                for n in names
                for j in range(len(c))
            )
        ]
        drug_words = [w for c in about_drug for w in c]
        if clauses_on:
            cols["near_drugs"][i] = " ".join([cols["near_drugs"][i], *drug_words]).strip()
        if counts_on:
            cols["fields"][i].update(_counts(drug_words, "drug_"))
            cols["fields"][i].update(_counts([w for c in clauses for w in c], "text_"))
    return cols


VARIANTS = {
    "as it is": _plain,
    "+ direction words": _with_direction,
    "+ drug clauses only": partial(_with_direction, counts_on=False),
    "+ cue counts only": partial(_with_direction, clauses_on=False),
}


def main(
    seeds: list[int],
    track: str = "context",
    variants: Sequence[str] = ("as it is", "+ direction words"),
    model: str = "baseline",
) -> None:
    compare({label: VARIANTS[label] for label in variants}, seeds, track, model)


if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1].split(",")]
    track = sys.argv[2] if len(sys.argv) > 2 else "context"
    variants = sys.argv[3].split(",") if len(sys.argv) > 3 else ["as it is", "+ direction words"]
    main(seeds, track, variants, *sys.argv[4:5])
