from __future__ import annotations

import json
from pathlib import Path

import pytest

from oncoclass.data import load_samples
from oncoclass.data.generic import load_table, split_drugs, write_table
from oncoclass.data.records import Sample
from oncoclass.errors import DataError, DataNotFoundError, InvalidInputError


def test_csv_with_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "\ufeffGene,Variation,Text,Label,Drugs,lab\n"  # a spreadsheet's byte-order mark
        'BRAF,V600E,"Melanoma, responds",Predictive: Resistance,Vemurafenib; Dabrafenib,A\n'
        "KRAS,G12C,,,,B\n",
        encoding="utf-8",
    )
    first, second = load_table(path)
    assert (first.id, first.gene, first.variation, first.text) == (
        "1",
        "BRAF",
        "V600E",
        "Melanoma, responds",
    )
    assert first.label == "Predictive: Resistance"
    assert first.drugs == ("Vemurafenib", "Dabrafenib")
    assert first.extra == {"lab": "A"} and first.source == "table"
    assert (second.id, second.label, second.text, second.drugs) == ("2", None, "", ())


def test_jsonl_with_lists_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    rows = [
        {"id": "a", "gene": "EGFR", "variation": "L858R", "drugs": ["Erlotinib"], "pubmed_id": 42},
        {"gene": "TP53", "variation": "R273C", "label": 4, "drugs": "A,B", "group": "paper-1"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    first, second = load_table(path)
    assert (first.id, first.drugs, first.pubmed_id) == ("a", ("Erlotinib",), "42")
    assert (second.id, second.label, second.drugs, second.group) == (
        "2",
        "4",
        ("A", "B"),
        "paper-1",
    )


def test_round_trip(tmp_path: Path) -> None:
    samples = [
        Sample(
            "1",
            "BRAF",
            "V600E",
            text='He said "yes",\nthen left.',
            label="x",
            drugs=("A", "B"),
            group="g",
            source="civic",
            extra={"note": "n"},
        ),
        Sample("2", "KRAS", "G12C", source="mine"),
    ]
    for name in ("out.csv", "out.tsv", "out.jsonl"):
        back = load_table(write_table(samples, tmp_path / name))
        assert back[0] == samples[0] and back[0].extra == {"note": "n"}
        assert back[1] == Sample("2", "KRAS", "G12C", source="mine")


def test_missing_required_column_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("gene,text\nBRAF,x\n")
    with pytest.raises(DataError, match="variation") as info:
        load_table(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "message", "line"),
    [
        ("t.csv", "gene,variation\nBRAF,V600E\n ,G12C\n", "empty gene", 3),
        ("t.csv", "gene,variation\nBRAF,V600E,extra\n", "expected 2 columns", 2),
        ("t.csv", "id,gene,variation\n1,A,B\n1,C,D\n", "duplicate id", 3),
        ("t.jsonl", '{"gene": "A", "variation": "B"}\n{"gene": "A"\n', "invalid JSON", 2),
        ("t.jsonl", '{"gene": "A", "variation": "B"}\n{"gene": "A"}\n', "variation", 2),
        ("t.jsonl", '{"gene": "", "variation": "B"}\n', "empty gene", 1),
        ("t.jsonl", "[1, 2]\n", "JSON object", 1),
    ],
)
def test_bad_rows_name_file_and_line(
    tmp_path: Path, name: str, content: str, message: str, line: int
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        load_table(path)
    assert str(path) in str(info.value) and info.value.line == line


def test_empty_unknown_and_missing_tables(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("gene,variation\n")
    with pytest.raises(DataError, match="no rows"):
        load_table(tmp_path / "empty.csv")
    (tmp_path / "t.xlsx").write_bytes(b"")
    with pytest.raises(DataError, match="unknown table format"):
        load_table(tmp_path / "t.xlsx")
    with pytest.raises(DataNotFoundError, match="absent.csv"):
        load_table(tmp_path / "absent.csv")


def test_split_drugs() -> None:
    assert split_drugs("A; B ,C;;") == ("A", "B", "C")
    assert split_drugs(["A", " ", "B"]) == ("A", "B")
    assert split_drugs(None) == ()


def test_load_samples_dispatch(tmp_path: Path) -> None:
    path = write_table([Sample("1", "BRAF", "V600E")], tmp_path / "t.csv")
    assert load_samples("table", path)[0].gene == "BRAF"
    with pytest.raises(InvalidInputError, match="unknown data source"):
        load_samples("cosmic", path)
    with pytest.raises(InvalidInputError, match="needs a path"):
        load_samples("mskcc")


@pytest.mark.integration
def test_load_samples_on_real_files(shared_data: Path) -> None:
    assert len(load_samples("civic", shared_data / "civic")) == 3540
    assert len(load_samples("mskcc", shared_data / "mskcc", text_file=None)) == 3321
    assert len(load_samples("mskcc-stage1", shared_data / "mskcc")) == 368
