"""Small labelled samples whose class depends on the text and the gene, built in memory."""

from __future__ import annotations

import random

import pytest

from oncoclass.data.records import Sample

TEMPLATES = {
    "Predictive: Resistance": [
        "Cells carrying {g} {v} were resistant to {d} and progressed on treatment.",
        "The {v} mutation in {g} conferred acquired resistance to {d} in patients.",
    ],
    "Predictive: Sensitivity/Response": [
        "Patients with {g} {v} responded to {d} with durable partial responses.",
        "{g} {v} predicted sensitivity to {d} in a phase II trial.",
    ],
    "Prognostic: Poor Outcome": [
        "{g} {v} was associated with shorter overall survival in this cohort.",
        "Carriers of {g} {v} had a worse prognosis and reduced survival.",
    ],
}
GENES = ["EGFR", "BRAF", "KRAS", "TP53", "ALK", "PIK3CA"]
VARIATIONS = ["V600E", "L858R", "G12D", "R273C", "T790M", "E545K", "EML4-ALK Fusion"]


def make_samples(n: int, seed: int = 0) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = rng.choice(sorted(TEMPLATES))
        g, v = rng.choice(GENES), rng.choice(VARIATIONS)
        drug = "" if label.startswith("Prognostic") else rng.choice(["erlotinib", "vemurafenib"])
        text = rng.choice(TEMPLATES[label]).format(g=g, v=v, d=drug or "therapy")
        out.append(
            Sample(
                id=str(i),
                gene=g,
                variation=v,
                text=text,
                label=label,
                disease=rng.choice(["Melanoma", "Lung Cancer"]),
                drugs=(drug,) if drug else (),
                group=f"pmid:{i // 2}",
            )
        )
    return out


@pytest.fixture(scope="session")
def toy_train() -> list[Sample]:
    return make_samples(240, seed=1)


@pytest.fixture(scope="session")
def toy_valid() -> list[Sample]:
    return make_samples(60, seed=2)


@pytest.fixture(scope="session")
def toy_test() -> list[Sample]:
    return make_samples(60, seed=3)
