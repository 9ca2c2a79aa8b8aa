"""Text preprocessing: cleaning, sentences with exact offsets, evidence selection, vocabulary."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from oncoclass.errors import DataError, InvalidInputError
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


def test_clean_text_keeps_word_boundaries() -> None:
    assert clean_text("V600E-mutant") == "v600e mutant"
    assert clean_text("  BRAF(V600E)/MEK;  p.Val600Glu\n") == "braf v600e mek p val600glu"
    assert clean_text("snake_case 0.5%") == "snake case 0 5"
    assert clean_text("") == ""


def test_tokenize() -> None:
    assert tokenize("EGFR exon-19 deletions, e.g. E746_A750del.") == [
        "egfr", "exon", "19", "deletions", "e", "g", "e746", "a750del",
    ]  # fmt: skip


def _texts(spans: list[Span]) -> list[str]:
    return [s.text for s in spans]


def test_split_sentences_handles_abbreviations_decimals_and_hgvs() -> None:
    text = (
        "Smith et al. (2010) found BRAF p.V600E in 0.5 % of cases, e.g. in melanoma. "
        "See Fig. 2 for details!  Was it real? Yes, i.e. Mr. J. Doe agreed.\n\n"
        "A new paragraph without a period\n\nThe end."
    )
    assert _texts(split_sentences(text)) == [
        "Smith et al. (2010) found BRAF p.V600E in 0.5 % of cases, e.g. in melanoma.",
        "See Fig. 2 for details!",
        "Was it real?",
        "Yes, i.e. Mr. J. Doe agreed.",
        "A new paragraph without a period",
        "The end.",
    ]


def test_split_sentences_offsets_are_exact() -> None:
    text = '  First one. "Quoted second." (Third) one ends here.   Last without period  '
    spans = split_sentences(text)
    assert _texts(spans) == ["First one.", '"Quoted second."', "(Third) one ends here.",
                             "Last without period"]  # fmt: skip
    assert all(text[s.start : s.end] == s.text for s in spans)
    assert split_sentences("") == [] and split_sentences(" \n ") == []


def test_split_sentences_cuts_very_kept_sentences() -> None:
    text = " ".join(["word"] * 2000)  # no period at all, like a table pulled from a PDF
    spans = split_sentences(text, max_chars=500)
    assert len(spans) > 1 and all(len(s.text) <= 500 for s in spans)
    assert all(text[s.start : s.end] == s.text for s in spans)
    assert sum(len(tokenize(s.text)) for s in spans) == 2000


def test_variation_patterns_match_aliases_as_whole_words() -> None:
    pattern = variation_patterns("TP53", "R273C")
    for hit in ["TP53 is mutated", "the Arg273Cys change", "p.R273C", "R273C-mutant", "(tp53)"]:
        assert pattern.search(hit), hit
    for miss in ["TP53BP1 binds", "R273CX", "XR273C", "R2730"]:
        assert not pattern.search(miss), miss
    stop = variation_patterns("CBL", "W802*")
    assert stop.search("the W802* truncation") and stop.search("Trp802Ter")
    assert variation_patterns("", "").search("anything") is None


TEXT = (
    "Background on kinases is long. "
    "Many genes are studied here. "
    "KRAS is another oncogene. "
    "Context before the variant. "
    "The BRAF V600E mutation activates MEK. "
    "Context after the variant. "
    "Unrelated sentence one. "
    "BRAF is a kinase. "
    "Unrelated sentence two."
)


def test_select_sentences_prioritises_the_variation_then_the_gene() -> None:
    spans = select_sentences(TEXT, "BRAF", "V600E", max_tokens=400, neighbours=1)
    assert _texts(spans) == [  # in document order; the first three sentences are not about BRAF
        "Context before the variant.",
        "The BRAF V600E mutation activates MEK.",
        "Context after the variant.",
        "Unrelated sentence one.",
        "BRAF is a kinase.",
        "Unrelated sentence two.",
    ]
    no_context = select_sentences(TEXT, "BRAF", "V600E", neighbours=0)
    assert _texts(no_context) == ["The BRAF V600E mutation activates MEK.", "BRAF is a kinase."]


def test_select_sentences_respects_the_budget_by_priority() -> None:
    # The variation sentence has 6 tokens and its neighbours 4 each: only one of them fits.
    spans = select_sentences(TEXT, "BRAF", "V600E", max_tokens=11, neighbours=1)
    assert _texts(spans) == [
        "Context before the variant.",
        "The BRAF V600E mutation activates MEK.",
    ]
    spans = select_sentences(TEXT, "BRAF", "Val600Glu", max_tokens=7)
    assert _texts(spans) == ["The BRAF V600E mutation activates MEK."]


def test_select_sentences_falls_back_to_the_beginning() -> None:
    spans = select_sentences(TEXT, "EGFR", "L858R", max_tokens=12)
    assert _texts(spans) == ["Background on kinases is long.", "Many genes are studied here."]
    assert select_sentences("", "BRAF", "V600E") == []
    assert select_text("   ", "BRAF", "V600E") == ""


def test_select_sentences_cuts_a_sentence_larger_than_the_budget() -> None:
    text = "BRAF " + " ".join(f"w{i}" for i in range(100)) + ". Short."
    (span,) = select_sentences(text, "BRAF", "V600E", max_tokens=10)
    assert len(tokenize(span.text)) == 10
    assert text[span.start : span.end] == span.text
    with pytest.raises(InvalidInputError):
        select_sentences(text, "BRAF", "V600E", max_tokens=0)


def test_select_text_joins_the_spans() -> None:
    assert select_text(TEXT, "BRAF", "V600E", max_tokens=7) == (
        "The BRAF V600E mutation activates MEK."
    )


def test_selection_on_a_long_text_is_linear() -> None:
    sentence = "Cells were treated with 0.5 uM of drug (Fig. 2), e.g. for 24 h. "
    text = sentence * (100_000 // len(sentence)) + "Finally BRAF V600E was found."
    spans = split_sentences(text)
    assert len(spans) > 1500
    assert all(text[s.start : s.end] == s.text for s in spans[::97])
    selected = select_sentences(text, "BRAF", "V600E", max_tokens=50)
    assert "Finally BRAF V600E was found." in _texts(selected)


# --- vocabulary and batches ---------------------------------------------------------------------


def test_vocabulary_ids_and_encoding() -> None:
    vocab = Vocabulary(["braf", "v600e", "braf"])
    assert vocab.to_list() == [PAD, UNK, "braf", "v600e"]
    assert len(vocab) == 4 and "braf" in vocab and "kras" not in vocab
    assert vocab.encode(["braf", "kras", "v600e"], max_len=10) == [2, 1, 3]
    assert vocab.encode(["braf", "kras", "v600e"], max_len=2) == [2, 1]
    assert vocab.encode([], max_len=5) == []
    with pytest.raises(InvalidInputError):
        vocab.encode(["braf"], max_len=-1)


def test_vocabulary_build_keeps_frequent_tokens() -> None:
    texts = [["a", "b", "c", "a"], ["b", "a", "d"], ["c"]]
    vocab = Vocabulary.build(texts, max_size=20, min_freq=2)
    assert vocab.to_list() == [PAD, UNK, "a", "b", "c"]  # d is too rare; ties alphabetical
    assert Vocabulary.build(iter(texts), max_size=3, min_freq=1).to_list() == [PAD, UNK, "a"]


def test_vocabulary_round_trip() -> None:
    vocab = Vocabulary.build([["x", "y", "x", "y", "z"]], min_freq=1)
    again = Vocabulary.from_list(vocab.to_list())
    assert again.to_list() == vocab.to_list()
    assert again.encode(["z", "q"], 5) == vocab.encode(["z", "q"], 5)
    with pytest.raises(DataError):
        Vocabulary.from_list(["x", "y"])
    with pytest.raises(DataError):
        Vocabulary.from_list([PAD, UNK, "x", "x"])


def test_pad_batch() -> None:
    batch = pad_batch([[5, 6, 7], [8], []])
    assert batch.dtype == np.int64
    assert batch.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert pad_batch([[1]], min_len=5).tolist() == [[1, 0, 0, 0, 0]]
    assert pad_batch([], min_len=3).shape == (0, 3)


# --- real data ----------------------------------------------------------------------------------


def _mskcc_texts(shared_data: Path) -> list[tuple[str, str, str]]:
    folder = shared_data / "mskcc"
    with open(folder / "training_variants", newline="") as f:
        variants = {r["ID"]: (r["Gene"], r["Variation"]) for r in csv.DictReader(f)}
    rows = []
    with open(folder / "training_text_sample", encoding="utf-8") as f:
        next(f)  # header "ID,Text"
        for line in f:
            sample_id, text = line.rstrip("\n").split("||", 1)
            rows.append((*variants[sample_id], text))
    return rows


@pytest.mark.integration
def test_selection_on_real_texts(shared_data: Path) -> None:
    rows = _mskcc_texts(shared_data)
    assert len(rows) == 9
    for gene, variation, text in rows:
        spans = split_sentences(text)
        assert all(text[s.start : s.end] == s.text for s in spans)
        selected = select_sentences(text, gene, variation, max_tokens=400)
        assert selected and sum(len(tokenize(s.text)) for s in selected) <= 400
        assert [s.start for s in selected] == sorted(s.start for s in selected)
        assert variation_patterns(gene, variation).search(select_text(text, gene, variation))
        own = variation_patterns("", variation)  # the variation alone, as it is in the text
        if own.search(text):
            assert own.search(select_text(text, gene, variation)), (gene, variation)


def test_a_long_text_is_split_and_ranked_once_with_the_same_selection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An ensemble and its explanation select from the same paper several times: its sentences
    # and their ranks are kept, and the selection is exactly the one computed afresh.
    import oncoclass.features.text as text_module

    sentence = "Cells were treated with 0.5 uM of drug (Fig. 2), e.g. for 24 h. "
    text = "BRAF was sequenced. " + sentence * 400 + "Finally BRAF V600E was found. " * 3
    assert len(text) >= text_module.KEPT_TEXT_CHARS
    calls = []
    real_split = text_module.split_sentences
    monkeypatch.setattr(
        text_module, "split_sentences", lambda t, *a: calls.append(t) or real_split(t, *a)
    )
    text_module._kept_sentences.cache_clear()
    text_module._kept_ranks.cache_clear()
    kept = [select_sentences(text, "BRAF", "V600E", max_tokens=n) for n in (10, 50, 400)]
    assert calls == [text]  # three selections, one split
    monkeypatch.setattr(text_module, "KEPT_TEXT_CHARS", 10**9)  # nothing kept: computed afresh
    assert kept == [select_sentences(text, "BRAF", "V600E", max_tokens=n) for n in (10, 50, 400)]
    assert len(calls) == 4
