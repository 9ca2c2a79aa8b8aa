"""Does the `baseline` gain from (gene, drug) and (variant, drug) pair features? Issue 8's
largest loss is resistance vs sensitivity among Predictive items: whether a variant makes a
tumour resistant or sensitive depends on the drug (EGFR T790M: resistant to gefitinib,
sensitive to osimertinib), which single gene, variant and drug features cannot say.

The pairs are added to the baseline's categorical fields (one-hot, L2-regularised with the
rest), by patching ``oncoclass.models.linear._columns`` in this process only. Same splits as
``quality-civic`` (the selection split held out, 5 grouped folds), context track (the
text-only track gives no drugs).

    python docs/experiments/drug-pairs/run.py 13,14,15
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from benchmarks.harness import ModelSpec, cv_splits, evaluate
from benchmarks.quality import _shared, selection_split
from oncoclass.data import load_civic
from oncoclass.data.records import Sample
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE
from oncoclass.features.genomic import gene_key, variation_key
from oncoclass.features.text import clean_text
from oncoclass.models import linear

_plain = linear._columns


def _with_pairs(samples: Sequence[Sample], max_tokens: int) -> dict[str, list[Any]]:
    cols = _plain(samples, max_tokens)
    for fields, s in zip(cols["fields"], samples, strict=True):
        gene, variant = gene_key(s.gene), variation_key(s.gene, s.variation)
        for drug in s.drugs:
            d = clean_text(drug)
            fields[f"gene_drug={gene}|{d}"] = 1.0
            fields[f"variant_drug={variant}|{d}"] = 1.0
    return cols


def main(seeds: list[int]) -> None:
    samples = load_civic(_shared("civic_2024"), min_support=30, rare="merge")
    rest, _ = selection_split(samples)
    print("seed | features | log loss | macro-F1 | accuracy | ECE")
    for seed in seeds:
        splits = cv_splits(rest, 5, seed)
        for label, columns in (("plain", _plain), ("+ drug pairs", _with_pairs)):
            linear._columns = columns
            (result,) = evaluate(ModelSpec("baseline"), splits, CLINICAL_SIGNIFICANCE, seed)
            m = result.metrics.summary()
            print(
                f"{seed} | {label} | {m['log_loss']:.4f} | {m['macro_f1']:.4f} | "
                f"{m['accuracy']:.4f} | {m['ece']:.4f}",
                flush=True,
            )
    linear._columns = _plain


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1].split(",")])
