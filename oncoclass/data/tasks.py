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


#: The label of evidence whose class is too rare to learn (CIViC's classes under
#: ``min_support`` items, merged): never a class a model predicts, but what its novelty
#: detector learns "unlike the known classes" from (outlier exposure).
OTHER = "Other"


@dataclass(frozen=True, slots=True)
class Task:
    """A task: its name, a human name for each class key, and the coarser level above each
    class (CIViC's evidence type, the MSKCC effect without "Likely")."""

    name: str
    description: str
    #: Fixed classes (MSKCC) or empty when the classes come from the data (CIViC).
    fixed_classes: tuple[str, ...] = ()
    #: What the coarse level is called ("evidence type", "effect").
    group_title: str = "group"
    #: Whether calibration fits a per-class bias besides the temperature. Chosen per task by
    #: measurement (docs/experiments/calibration): on MSKCC's nine fixed classes (variants not
    #: grouped by paper) the bias lowers the stage-1 log loss on every seed; on CIViC's ~300
    #: validation items, grouped by paper, it overfits them on every seed and track.
    calibration_class_bias: bool = False

    def class_name(self, label: str) -> str:
        if self.name == MUTATION_EFFECT:
            return MSKCC_CLASS_NAMES.get(label, label)
        return label

    def group_of(self, label: str) -> str:
        """The coarse level of a class: "Predictive" for "Predictive: Resistance",
        "Loss-of-function" for MSKCC's "Likely Loss-of-function". Predicting the class
        predicts its group, so an answer can be right about the evidence type even when the
        significance is one the model never saw."""
        if self.name == MUTATION_EFFECT:
            return self.class_name(label).removeprefix("Likely ")
        return label.split(":", 1)[0].strip()

    def classes_for(self, labels: Sequence[str]) -> list[str]:
        """The ordered class keys a model trained on ``labels`` predicts."""
        if self.fixed_classes:
            return list(self.fixed_classes)
        return sorted(Counter(label for label in labels if label != OTHER))


TASKS: dict[str, Task] = {
    MUTATION_EFFECT: Task(
        MUTATION_EFFECT,
        "MSKCC/OncoKB mutation effect of a variant (9 classes, Kaggle 2017 labels).",
        fixed_classes=tuple(MSKCC_CLASS_NAMES),
        group_title="effect",
        calibration_class_bias=True,
    ),
    CLINICAL_SIGNIFICANCE: Task(
        CLINICAL_SIGNIFICANCE,
        "CIViC clinical significance of an evidence item: evidence type + significance "
        "(e.g. 'Predictive: Resistance').",
        group_title="evidence type",
    ),
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTaskError(
            f"unknown task {name!r}; choose one of: {', '.join(TASKS)}"
        ) from None
