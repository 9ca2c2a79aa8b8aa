"""The classification tasks OncoClass ships."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from oncoclass.errors import UnknownTaskError

MUTATION_EFFECT = "mutation-effect"
CLINICAL_SIGNIFICANCE = "clinical-significance"

#: The nine MSKCC/Kaggle classes are OncoKB "mutation effect" calls.
MSKCC_CLASS_NAMES: dict[str, str] = {
    "1": "Likely Loss-of-function",
    "2": "Likely Gain-of-function",
    "3": "Neutral",
    "4": "Loss-of-function",
    "5": "Likely Neutral",
    "6": "Inconclusive",
    "7": "Gain-of-function",
    "8": "Likely Switch-of-function",
    "9": "Switch-of-function",
}


@dataclass(frozen=True, slots=True)
class Task:
    """A task: its name and a human name for each class key."""

    name: str
    description: str
    #: Fixed classes (MSKCC) or empty when the classes come from the data (CIViC).
    fixed_classes: tuple[str, ...] = ()

    def class_name(self, label: str) -> str:
        if self.name == MUTATION_EFFECT:
            return MSKCC_CLASS_NAMES.get(label, label)
        return label

    def classes_for(self, labels: Sequence[str]) -> list[str]:
        """The ordered class keys a model trained on ``labels`` predicts."""
        if self.fixed_classes:
            return list(self.fixed_classes)
        return sorted(Counter(labels))


TASKS: dict[str, Task] = {
    MUTATION_EFFECT: Task(
        MUTATION_EFFECT,
        "MSKCC/OncoKB mutation effect of a variant (9 classes, Kaggle 2017 labels).",
        fixed_classes=tuple(MSKCC_CLASS_NAMES),
    ),
    CLINICAL_SIGNIFICANCE: Task(
        CLINICAL_SIGNIFICANCE,
        "CIViC clinical significance of an evidence item: evidence type + significance "
        "(e.g. 'Predictive: Resistance').",
    ),
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTaskError(
            f"unknown task {name!r}; choose one of: {', '.join(TASKS)}"
        ) from None
