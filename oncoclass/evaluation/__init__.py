"""Evaluation: metrics, grouped validation and reports of probabilistic classifiers."""

from oncoclass.evaluation.metrics import (
    ClassReport,
    Metrics,
    UncertaintyMetrics,
    compute_metrics,
    expected_calibration_error,
    prior_proba,
)
from oncoclass.evaluation.report import (
    format_summary_table,
    plot_confusion_matrix,
    plot_reliability,
    write_report,
)
from oncoclass.evaluation.validation import (
    STRATIFIED,
    ValidationResult,
    align_proba,
    cross_validate,
    grouped_folds,
    make_folds,
    split_validation,
    train_test,
)

__all__ = [
    "STRATIFIED",
    "ClassReport",
    "Metrics",
    "UncertaintyMetrics",
    "ValidationResult",
    "align_proba",
    "compute_metrics",
    "cross_validate",
    "expected_calibration_error",
    "format_summary_table",
    "grouped_folds",
    "make_folds",
    "plot_confusion_matrix",
    "plot_reliability",
    "prior_proba",
    "split_validation",
    "train_test",
    "write_report",
]
