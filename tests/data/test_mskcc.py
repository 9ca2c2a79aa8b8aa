from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from oncoclass.data.mskcc import (
    load_mskcc_stage1,
    load_mskcc_train,
    read_stage1_solution,
    read_texts,
    read_variants,
    text_group,
)
from oncoclass.errors import DataError, DataNotFoundError

PAPER = "CBL is an E3 ligase; mutants W802* and Q249E were tested || in vitro."


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def mskcc_dir(tmp_path: Path) -> Path:
    write(
        tmp_path / "training_variants",
        "ID,Gene,Variation,Class",
        "0,FAM58A,Truncating Mutations,1",
        "1,CBL,W802*,2",
        "2,CBL,Q249E,2",
        "3,TP53,R273C,4",
    )
    write(
        tmp_path / "training_text",
        "ID,Text",
        "0||Cyclin-dependent kinases, or CDKs, regulate ...",
        f"1||{PAPER}",
        f"2||{PAPER}",
        "3||null",
    )
    write(tmp_path / "test_variants", "ID,Gene,Variation", "0,ACSL4,R570S", "1,NAGLU,P521L")
    write(
        tmp_path / "stage1_solution_filtered.csv",
        "ID,class1,class2,class3,class4,class5,class6,class7,class8,class9",
        "1,0,0,0,0,0,0,1,0,0",
    )
    return tmp_path


def test_train_samples_carry_label_text_and_text_group(mskcc_dir: Path) -> None:
    samples = load_mskcc_train(mskcc_dir)
    assert [s.label for s in samples] == ["1", "2", "2", "4"]
    assert samples[1].text == PAPER  # split on the first "||" only
    assert samples[1].group == samples[2].group == text_group(PAPER)
    assert samples[0].group != samples[1].group
    assert samples[3].text == "" and samples[3].group == "id:3"  # Kaggle's "null" text
    assert {s.source for s in samples} == {"mskcc-train"}
    assert (samples[1].id, samples[1].gene, samples[1].variation) == ("1", "CBL", "W802*")


def test_variants_only_mode_uses_id_groups(mskcc_dir: Path) -> None:
    samples = load_mskcc_train(mskcc_dir, text_file=None)
    assert all(s.text == "" for s in samples)
    assert [s.group for s in samples] == ["id:0", "id:1", "id:2", "id:3"]


def test_auto_without_a_text_file_and_explicit_text_file(mskcc_dir: Path) -> None:
    (mskcc_dir / "training_text").rename(mskcc_dir / "texts.txt")
    assert all(s.text == "" for s in load_mskcc_train(mskcc_dir))
    assert load_mskcc_train(mskcc_dir, text_file="texts.txt")[1].text == PAPER
    with pytest.raises(DataNotFoundError, match="nope"):
        load_mskcc_train(mskcc_dir, text_file="nope")


def test_stage1_keeps_only_labelled_rows(mskcc_dir: Path) -> None:
    (samples,) = load_mskcc_stage1(mskcc_dir)
    assert (samples.id, samples.gene, samples.label, samples.source) == (
        "1",
        "NAGLU",
        "7",
        "mskcc-stage1",
    )


def test_stage1_label_for_an_unknown_id(mskcc_dir: Path) -> None:
    with (mskcc_dir / "stage1_solution_filtered.csv").open("a") as f:
        f.write("99,1,0,0,0,0,0,0,0,0\n")
    with pytest.raises(DataError, match="99"):
        load_mskcc_stage1(mskcc_dir)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="training_variants"):
        load_mskcc_train(tmp_path)


@pytest.mark.parametrize(
    ("lines", "message", "line"),
    [
        (["ID,Gene,Mutation,Class", "0,A,B,1"], "expected header", 1),
        (["ID,Gene,Variation,Class", "0,A,B,1", "1,A,B"], "expected 4 columns", 3),
        (["ID,Gene,Variation,Class", "0,A,B,one"], "not an integer", 2),
        (["ID,Gene,Variation,Class", "0,A,B,1", "1,A,C,10"], "outside 1..9", 3),
        (["ID,Gene,Variation,Class", "0,A,B,1", "0,A,C,1"], "duplicate ID", 3),
        (["ID,Gene,Variation,Class", "0,,B,1"], "empty", 2),
    ],
)
def test_malformed_variants_name_file_and_line(
    tmp_path: Path, lines: list[str], message: str, line: int
) -> None:
    path = write(tmp_path / "training_variants", *lines)
    with pytest.raises(DataError, match=message) as info:
        read_variants(path)
    assert str(path) in str(info.value) and f"line {line}" in str(info.value)
    assert info.value.line == line


@pytest.mark.parametrize(
    ("lines", "message", "line"),
    [
        (["ID|Text", "0||x"], "expected header", 1),
        (["ID,Text", "0||x", "1 a text without separator"], "ID||Text", 3),
        (["ID,Text", "||x"], "empty ID", 2),
    ],
)
def test_malformed_texts_name_file_and_line(
    tmp_path: Path, lines: list[str], message: str, line: int
) -> None:
    path = write(tmp_path / "training_text", *lines)
    with pytest.raises(DataError, match=message) as info:
        read_texts(path)
    assert str(path) in str(info.value) and f"line {line}" in str(info.value)


@pytest.mark.parametrize(
    "reader", [read_variants, read_texts, read_stage1_solution], ids=lambda f: f.__name__
)
def test_header_only_is_an_error_not_an_empty_dataset(tmp_path: Path, reader) -> None:
    headers = {
        read_variants: "ID,Gene,Variation,Class",
        read_texts: "ID,Text",
        read_stage1_solution: "ID," + ",".join(f"class{c}" for c in range(1, 10)),
    }
    path = write(tmp_path / "file", headers[reader])
    with pytest.raises(DataError, match="no .* rows") as info:
        reader(path)
    assert str(path) in str(info.value)


def test_solution_rows_must_be_one_hot(tmp_path: Path) -> None:
    header = "ID," + ",".join(f"class{c}" for c in range(1, 10))
    path = write(tmp_path / "s.csv", header, "1,0,0,0,0,0,0,1,0,0", "2,0,1,0,0,0,0,1,0,0")
    with pytest.raises(DataError, match="one-hot") as info:
        read_stage1_solution(path)
    assert info.value.line == 3


def test_non_utf8_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "training_variants"
    path.write_bytes(b"ID,Gene,Variation,Class\n0,\xff\xfe,B,1\n")
    with pytest.raises(DataError, match="UTF-8"):
        read_variants(path)


# --- the real files ------------------------------------------------------------------------------


@pytest.mark.integration
def test_real_training_variants(shared_data: Path) -> None:
    samples = load_mskcc_train(shared_data / "mskcc", text_file=None)
    assert len(samples) == 3321
    assert Counter(s.label for s in samples).keys() == {str(c) for c in range(1, 10)}
    assert len({s.id for s in samples}) == 3321


@pytest.mark.integration
def test_real_texts(shared_data: Path) -> None:
    texts = read_texts(shared_data / "mskcc" / "training_text_sample")
    assert sorted(texts, key=int) == [str(i) for i in range(9)]
    assert all(len(t) > 1000 and "||" not in t[:5] for t in texts.values())
    assert texts["0"].startswith("Cyclin-dependent kinases")

    samples = load_mskcc_train(shared_data / "mskcc")  # "auto" finds the sample file
    with_text = [s for s in samples if s.text]
    assert [s.id for s in with_text] == [str(i) for i in range(9)]
    assert with_text[1].group == with_text[2].group  # IDs 1 and 2 share one paper
    assert len({s.group for s in samples}) < len(samples)


@pytest.mark.integration
def test_real_stage1(shared_data: Path) -> None:
    samples = load_mskcc_stage1(shared_data / "mskcc")
    assert len(samples) == 368
    assert all(s.label in {str(c) for c in range(1, 10)} for s in samples)
    assert samples[0].id == "12"
