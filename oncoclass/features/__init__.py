"""Features: parsed variations (``variation``) and preprocessed evidence text (``text``)."""

from oncoclass.features.text import (
    PAD,
    UNK,
    Span,
    Vocabulary,
    clean_text,
    pad_batch,
    select_sentences,
    select_text,
    split_sentences,
    tokenize,
    variation_patterns,
)
from oncoclass.features.variation import (
    FEATURE_NAMES,
    ONE_TO_THREE,
    ParsedVariation,
    VariationType,
    parse_variation,
    three_to_one,
)

__all__ = [
    "FEATURE_NAMES",
    "ONE_TO_THREE",
    "PAD",
    "UNK",
    "ParsedVariation",
    "Span",
    "VariationType",
    "Vocabulary",
    "clean_text",
    "pad_batch",
    "parse_variation",
    "select_sentences",
    "select_text",
    "split_sentences",
    "three_to_one",
    "tokenize",
    "variation_patterns",
]
