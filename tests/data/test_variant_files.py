"""The variant-file reader: real VCFs (VEP, SnpEff) and MAF, tables, errors, streaming."""

from __future__ import annotations

import gzip
import io
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pysam
import pytest

from oncoclass.data.variant_files import (
    FileFormat,
    RowProblem,
    VariantRecord,
    detect_format,
    read_variants,
    short_protein_change,
    variant_key,
)
from oncoclass.errors import DataError, InvalidInputError

VEP_TN = "vcf/pvactools_protein_altering_TN_GRCh38_vep95.vcf"
VEP_HCC1395 = "vcf/pvactools_HCC1395_somatic_GRCh37_vep95.vcf"
SNPEFF = "vcf/umccr_vcfstuff_ICGC-MB_vardict_somatic_GRCh37_snpeff43.vcf"
MAF = "msk_summit_neratinib/data_mutations_extended.txt"


def split(
    items: Iterable[VariantRecord | RowProblem],
) -> tuple[list[VariantRecord], list[RowProblem]]:
    records: list[VariantRecord] = []
    problems: list[RowProblem] = []
    for item in items:
        (records if isinstance(item, VariantRecord) else problems).append(item)
    return records, problems


def by_line(records: Iterable[VariantRecord]) -> dict[int, VariantRecord]:
    return {r.line: r for r in records}


# --- real files -------------------------------------------------------------------------------


def test_vep_tumour_normal_vcf(shared_data: Path) -> None:
    records, problems = split(read_variants(shared_data / VEP_TN))
    assert (len(records), problems) == (140, [])
    assert {r.sample for r in records} == {"TUMOR"}  # never the matched NORMAL
    assert sum(r.coding for r in records) == 129
    assert {r.genome_build for r in records} == {"GRCh38"}
    assert {r.source_format for r in records} == {"vcf"}
    lines = by_line(records)
    # VEP's PICK flag chooses the transcript; HGVSp "p.Tyr404delinsCysAsn..." is shortened.
    fign = lines[97]
    assert (fign.gene, fign.transcript, fign.variation) == (
        "FIGN",
        "ENST00000333129.3",
        "Y404delinsCNECWHTHIKPD",
    )
    assert (fign.chrom, fign.pos, fign.ref) == ("chr2", 163610621, "T")
    assert fign.raw["PICK"] == "1" and fign.raw["FILTER"] == "PASS"
    # Ter becomes "*"; the normal is 0/1 here as well, and still gets no record.
    assert (lines[98].gene, lines[98].variation) == ("ERICH3", "G214delinsANLEI*")
    # PICK falls on an intronic transcript: non-coding, kept, and the note names the
    # transcript whose protein the insertion does change.
    smg7 = lines[99]
    assert (smg7.transcript, smg7.coding, smg7.variation) == ("ENST00000507469.5", False, "")
    assert smg7.note.startswith("intron_variant: no protein change")
    assert "D583delinsEVLFGFT on ENST00000347615.6" in smg7.note


def test_vep_single_sample_vcf_with_multi_allelic_sites(shared_data: Path) -> None:
    records, problems = split(read_variants(shared_data / VEP_HCC1395))
    assert (len(records), len(problems)) == (474, 12)
    assert {r.sample for r in records} == {"H_NJ-HCC1395-HCC1395"}
    assert {r.genome_build for r in records} == {"GRCh37"}
    coding = [r for r in records if r.coding]
    assert len(coding) == 36  # the file's 36 coding variants
    noncoding = [r for r in records if not r.coding]
    assert all(r.variation == "" and r.note.endswith("no protein change") for r in noncoding)
    assert Counter(r.consequence for r in noncoding)["intergenic_variant"] == 103
    assert {r.gene for r in noncoding if r.consequence == "intergenic_variant"} == {""}

    lines = by_line(records)
    assert (lines[87].gene, lines[87].variation) == ("IGFBP2", "L21_L22insPL")
    assert (lines[88].variation, lines[88].alt) == ("A496_A502del", "A")  # VEP allele "-"
    assert lines[89].variation == "L288dup"
    assert lines[154].raw["HGVSp"].endswith("p.Ala306%3D") and lines[154].variation == "A306="
    assert (lines[426].gene, lines[426].variation) == ("PPARA", "C143*")

    # 22:21273168 A>G,T (genotype 1/1): the G allele is a record with G's annotation only;
    # T, carried by no sample, is a problem saying so.
    crkl = lines[162]
    assert (crkl.ref, crkl.alt, crkl.gene, crkl.consequence) == ("A", "G", "CRKL", "intron_variant")
    at_162 = [p for p in problems if p.line == 162]
    assert [p.field for p in at_162] == ["GT"] and "A>T is carried by no tumour" in at_162[
        0
    ].message
    # 22:17039542 CAAGCC>CAGCC,CA (0/2): CSQ annotates only CAGCC (VEP allele "AGCC").
    at_108 = {p.field: p for p in problems if p.line == 108}
    assert set(at_108) == {"GT", "CSQ"}
    assert "CAAGCC>CA has no CSQ annotation" in at_108["CSQ"].message
    assert 108 not in lines


def test_snpeff_vcf(shared_data: Path) -> None:
    records, problems = split(read_variants(shared_data / SNPEFF))
    assert (len(records), len(problems)) == (225, 11)
    # ##SAMPLE=<ID=tumor_downsample,Genomes=Tumor>: only the tumour, never MB_normal_50x.
    assert {r.sample for r in records} == {"tumor_downsample"}
    assert sum(r.coding for r in records) == 21
    assert {r.genome_build for r in records} == {"GRCh37"}  # from ##SnpEffCmd (GRCh37.75)
    assert all(p.field == "GT" and "tumor_downsample 0/0" in p.message for p in problems)
    lines = by_line(records)
    assert (lines[248].gene, lines[248].variation, lines[248].transcript) == (
        "WASH4P",
        "G440R",
        "ENST00000326592",
    )
    assert lines[251].variation == "P319="  # SnpEff's "p.Pro319Pro"
    # The first entry is a splice_donor_variant without HGVS.p: the first with one is chosen.
    assert (lines[259].variation, lines[259].consequence) == (
        "V307A",
        "missense_variant&splice_region_variant",
    )
    upstream = lines[160]
    assert (upstream.gene, upstream.coding) == ("DDX11L10", False)
    assert upstream.note == "upstream_gene_variant: no protein change"


def test_real_maf(shared_data: Path) -> None:
    path = shared_data / MAF
    assert detect_format(path) is FileFormat.MAF
    records, problems = split(read_variants(path))
    assert (len(records), problems) == (190, [])
    assert {r.source_format for r in records} == {"maf"}
    atm = records[0]
    assert (atm.line, atm.sample, atm.gene, atm.variation) == (2, "P7_A", "ATM", "R1917T")
    assert (atm.chrom, atm.pos, atm.genome_build, atm.transcript) == (
        "11",
        108178699,
        "GRCh37",
        "NM_000051.3",
    )
    # This MAF's header has a Consequence column its rows lack: Variant_Classification holds
    # "SNP" and Tumor_Seq_Allele2 a dbSNP id. Only a real classification and a real allele count.
    assert atm.consequence == "Missense_Mutation" and (atm.ref, atm.alt) == ("G", "C")
    assert atm.raw["Tumor_Seq_Allele2"] == "rs377289524"
    assert (records[1].variation, records[1].consequence) == ("X2151_splice", "Splice_Site")
    assert Counter(r.sample for r in records)["P19_A"] == 21
    # The same variant in several samples: one record each, grouped by variant_key.
    groups = Counter(variant_key(r) for r in records)
    assert groups[("TP53", "E343GFS*2")] == 6
    assert groups[("ERBB2", "S310F")] == 13


# --- VCFs built here: multi-allelic sites, the transcript rule, bad records ----------------------

CSQ_FIELDS = (
    "Allele|Consequence|IMPACT|SYMBOL|Feature|BIOTYPE|HGVSc|HGVSp|CANONICAL|MANE_SELECT|PICK"
)


def csq(*entries: str) -> str:
    return "CSQ=" + ",".join(entries)


def entry(
    allele: str,
    consequence: str,
    gene: str,
    transcript: str,
    hgvsp: str = "",
    *,
    hgvsc: str = "",
    canonical: str = "",
    mane: str = "",
    pick: str = "",
) -> str:
    fields = [allele, consequence, "MODERATE", gene, transcript, "protein_coding", hgvsc, hgvsp]
    return "|".join([*fields, canonical, mane, pick])


def write_vcf(
    tmp_path: Path,
    shared_data: Path,
    body: list[str],
    samples: tuple[str, ...] = ("NORMAL", "TUMOR"),
    extra_header: tuple[str, ...] = (),
) -> Path:
    """A VCF with the real tumour/normal file's header, its CSQ line replaced by a shorter one."""
    header = []
    for line in (shared_data / VEP_TN).read_text().splitlines():
        if line.startswith("##INFO=<ID=CSQ"):
            line = (
                '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from '
                f'Ensembl VEP. Format: {CSQ_FIELDS}">'
            )
        if line.startswith("#CHROM"):
            header.extend(extra_header)
            line = "\t".join(line.split("\t")[:8] + (["FORMAT", *samples] if samples else []))
        if line.startswith("#"):
            header.append(line)
    path = tmp_path / "built.vcf"
    path.write_text("\n".join([*header, *body]) + "\n")
    return path


def site(chrom: str, pos: int, ref: str, alt: str, info: str, normal: str, tumour: str) -> str:
    return f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t{info}\tGT\t{normal}\t{tumour}"


BRAF = "ENST00000646891.2"
TP53 = "ENST00000269305.9"


def test_multi_allelic_sites_are_split_with_their_own_annotations(
    tmp_path: Path, shared_data: Path
) -> None:
    snv = csq(
        entry("T", "intron_variant", "BRAF", "ENST00000999999.1", hgvsc="c.100+5T>A"),
        entry("T", "missense_variant", "BRAF", BRAF, "ENSP00000493543.1:p.Val600Glu", pick="1"),
        entry("C", "missense_variant", "BRAF", BRAF, "ENSP00000493543.1:p.Val600Gly", pick="1"),
    )
    # CAAG>C,CA: VEP drops the shared first base, so the alleles are "-" and "A".
    indel = csq(
        entry("-", "inframe_deletion", "TP53", TP53, "ENSP00000269305.4:p.Lys34del", pick="1"),
        entry("A", "frameshift_variant", "TP53", TP53, "ENSP00000269305.4:p.Lys34ArgfsTer12"),
    )
    path = write_vcf(
        tmp_path,
        shared_data,
        [
            site("chr7", 140753336, "A", "T,C", snv, "0/0", "1/2"),
            site("chr17", 7675994, "CAAG", "C,CA", indel, "0/0", "1/2"),
        ],
    )
    records, problems = split(read_variants(path))
    assert problems == []
    got = [(r.alt, r.gene, r.variation, r.transcript) for r in records]
    assert got == [
        ("T", "BRAF", "V600E", BRAF),
        ("C", "BRAF", "V600G", BRAF),
        ("C", "TP53", "K34del", TP53),
        ("CA", "TP53", "K34Rfs*12", TP53),
    ]
    assert {r.sample for r in records} == {"TUMOR"}
    assert records[0].line == records[1].line == records[2].line - 1


def test_transcript_rule(tmp_path: Path, shared_data: Path) -> None:
    def kras(*entries: str) -> str:
        return site("chr12", 25245350, "C", "T", csq(*entries), "0/0", "0/1")

    body = [
        # CANONICAL beats a more severe consequence elsewhere.
        kras(
            entry("T", "intron_variant", "KRAS", "ENST1"),
            entry("T", "missense_variant", "KRAS", "ENST2", "p.Gly12Asp", canonical="YES"),
            entry("T", "stop_gained", "KRAS", "ENST3", "p.Gly12Ter"),
        ),
        # MANE Select beats CANONICAL ("%3D" is VEP's "=").
        kras(
            entry("T", "missense_variant", "KRAS", "ENST4", "p.Gly13Asp", canonical="YES"),
            entry("T", "synonymous_variant", "KRAS", "ENST5", "p.Gly12%3D", mane="NM_004985.5"),
        ),
        # No flags: the most severe consequence that has a protein change.
        kras(
            entry("T", "intron_variant", "KRAS", "ENST6"),
            entry("T", "frameshift_variant", "KRAS", "ENST7"),
            entry("T", "synonymous_variant", "KRAS", "ENST8", "p.Gly12="),
            entry("T", "missense_variant", "KRAS", "ENST9", "p.Gly12Val"),
        ),
        # Nothing changes a protein: the most severe consequence, kept as non-coding.
        kras(
            entry("T", "upstream_gene_variant", "KRAS", "ENST10"),
            entry("T", "intron_variant", "KRAS", "ENST11"),
        ),
        # A splice-donor variant has no HGVSp: its cDNA change is what the parser reads.
        kras(entry("T", "splice_donor_variant", "KRAS", "ENST12", hgvsc="ENST12:c.111+1G>A")),
    ]
    records, problems = split(read_variants(write_vcf(tmp_path, shared_data, body)))
    assert problems == []
    got = [(r.transcript, r.variation, r.coding) for r in records]
    assert got == [
        ("ENST2", "G12D", True),
        ("ENST5", "G12=", True),
        ("ENST9", "G12V", True),
        ("ENST11", "", False),
        ("ENST12", "c.111+1G>A", True),
    ]
    assert records[3].note == "intron_variant: no protein change"
    assert records[4].note == "splice site: variation is the cDNA change"


def test_vcf_row_problems_and_reading_goes_on(tmp_path: Path, shared_data: Path) -> None:
    annotated = csq(entry("T", "missense_variant", "KRAS", "ENST2", "p.Gly12Asp"))
    body = [
        site("chr12", 25245350, "C", "T", ".", "0/0", "0/1"),  # no CSQ
        site("chr12", 25245351, "C", "T", annotated, "0/1", "0/0"),  # only the normal has it
        "chr12\tnot-a-position\t.\tC\tT\t.\tPASS\t.\tGT\t0/0\t0/1",  # htslib cannot parse it
        site("chr12", 25245352, "C", "T", annotated, "0/0", "0/1"),
    ]
    path = write_vcf(tmp_path, shared_data, body)
    first_line = sum(1 for line in path.read_text().splitlines() if line.startswith("#")) + 1
    records, problems = split(read_variants(path))
    assert [(p.line - first_line, p.field) for p in problems] == [(0, "CSQ"), (1, "GT"), (2, None)]
    assert "malformed VCF record" in problems[2].message
    assert "NORMAL 0/1" in problems[1].message and problems[1].gene == "KRAS"
    assert [(r.line - first_line, r.variation) for r in records] == [(3, "G12D")]


def test_which_samples_are_reported(tmp_path: Path, shared_data: Path) -> None:
    info = csq(entry("T", "missense_variant", "KRAS", "ENST2", "p.Gly12Asp"))

    def samples(body: str, names: tuple[str, ...], header: tuple[str, ...] = ()) -> list[str]:
        path = write_vcf(tmp_path, shared_data, [body], names, header)
        return [r.sample for r in read_variants(path) if isinstance(r, VariantRecord)]

    fields = "chr12\t100\t.\tC\tT\t.\tPASS\t" + info
    # Sites only: one record, no sample.
    assert samples(fields, ()) == [""]
    # No genotype (Strelka writes none): the record is the tumour's, by its name.
    assert samples(fields + "\tDP\t30\t31", ("PT1_N", "PT1_T")) == ["PT1_T"]
    # Mutect2's ##tumor_sample= names the tumour whatever the sample names.
    declared = ("##tumor_sample=B", "##normal_sample=A")
    assert samples(fields + "\tGT\t0/1\t0/1", ("A", "B"), declared) == ["B"]
    # A cohort: every tumour sample whose genotype holds the allele.
    cohort = fields + "\tGT\t0/1\t0/0\t1/1\t./."
    assert samples(cohort, ("S1", "S2", "S3", "S4")) == ["S1", "S3"]


def test_gzipped_vcf_plain_and_bgzip(tmp_path: Path, shared_data: Path) -> None:
    source = shared_data / SNPEFF
    plain = tmp_path / "plain.vcf.gz"
    plain.write_bytes(gzip.compress(source.read_bytes()))
    bgzip = tmp_path / "bgzip.vcf.gz"
    pysam.tabix_compress(str(source), str(bgzip))
    for path in (plain, bgzip):
        assert detect_format(path) is FileFormat.VCF
        records, problems = split(read_variants(path))
        assert (len(records), len(problems), records[0].line) == (225, 11, 160)


def test_unannotated_or_broken_vcf_is_a_data_error(tmp_path: Path, shared_data: Path) -> None:
    header = [
        line
        for line in (shared_data / VEP_TN).read_text().splitlines()
        if line.startswith("#") and not line.startswith("##INFO=<ID=CSQ")
    ]
    bare = tmp_path / "bare.vcf"
    bare.write_text("\n".join([*header, "chr1\t10\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\t0/1"]) + "\n")
    with pytest.raises(DataError, match="no CSQ .* or ANN .* annotation") as error:
        list(read_variants(bare, name="upload.vcf"))
    assert error.value.path == "upload.vcf"
    broken = tmp_path / "broken.vcf"
    broken.write_text("##fileformat=VCFv4.2\nthis is not a header\n")
    with pytest.raises(DataError, match="not a readable VCF"):
        list(read_variants(broken))


# --- tables -----------------------------------------------------------------------------------


def read_text(text: str, **kwargs: object) -> list[VariantRecord | RowProblem]:
    return list(read_variants(io.StringIO(text), **kwargs))  # type: ignore[arg-type]


def test_csv_with_synonyms(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "# made by hand\n"
        "Gene_Symbol,Protein_Change,Cancer_Type,Therapies,Sample_ID,Evidence\n"
        'BRAF,p.Val600Glu,Melanoma,"Dabrafenib, Trametinib",S1,"Responds, durably."\n'
        "\n"
        "EGFR,Exon 19 Deletion,NSCLC,,S2,\n"
        "TP53,R273C,,,S1,\n"
    )
    assert detect_format(path) is FileFormat.TABLE
    records, problems = split(read_variants(path))
    assert problems == []
    braf = records[0]
    assert (braf.line, braf.gene, braf.variation, braf.disease) == (3, "BRAF", "V600E", "Melanoma")
    assert (braf.drugs, braf.sample, braf.text) == (
        ("Dabrafenib", "Trametinib"),
        "S1",
        "Responds, durably.",
    )
    assert braf.source_format == "table" and braf.coding
    assert [(r.line, r.variation) for r in records[1:]] == [(5, "Exon 19 Deletion"), (6, "R273C")]


def test_tsv_semicolons_and_windows_1252(tmp_path: Path) -> None:
    [tsv] = read_text("Hugo_Symbol\tHGVSp_Short\tTumor_Sample_Barcode\nTP53\tp.R273C\tS\n")
    assert isinstance(tsv, VariantRecord)
    assert (tsv.gene, tsv.variation, tsv.sample, tsv.source_format) == ("TP53", "R273C", "S", "maf")
    [csv_maf_columns] = read_text("Hugo_Symbol,HGVSp_Short\nTP53,p.R273C\n")  # commas: a table
    assert isinstance(csv_maf_columns, VariantRecord)
    assert (csv_maf_columns.variation, csv_maf_columns.source_format) == ("R273C", "table")
    path = tmp_path / "excel.csv"
    path.write_bytes("gene;variation;text\nBRAF;V600E;caf\xe9 \u20ac\n".encode("cp1252"))
    [row] = read_variants(path)
    assert isinstance(row, VariantRecord) and row.text == "caf\xe9 \u20ac"


def test_maf_text_stream_keeps_non_coding_rows() -> None:
    maf = (
        "#version 2.4\n"
        "Hugo_Symbol\tVariant_Classification\tHGVSp_Short\tTumor_Sample_Barcode\tNCBI_Build\n"
        "TP53\tIntron\t\tS1\t37\n"
        'KRAS\tMissense_Mutation\tp.G12D\tS"2\tGRCh37\n'  # MAF cells are never quoted
    )
    intron, kras = read_text(maf)
    assert isinstance(intron, VariantRecord) and isinstance(kras, VariantRecord)
    assert (intron.line, intron.coding, intron.variation) == (3, False, "")
    assert intron.note == "Intron: no protein change" and intron.genome_build == "GRCh37"
    assert (kras.variation, kras.sample, kras.coding) == ("G12D", 'S"2', True)


def test_bad_rows_are_problems_and_the_rest_is_read() -> None:
    text = (
        "gene,variation,text\n"
        ",V600E,\n"
        "KRAS,,\n"
        "EGFR,L858R," + "x" * 51 + "\n"
        "BRAF,V600E,Responds, durably\n"
        "TP53,R273C,fine\n"
    )
    items = read_text(text, max_field_chars=50)
    records, problems = split(items)
    assert [(p.line, p.field) for p in problems] == [
        (2, "gene"),
        (3, "variation"),
        (4, "text"),
        (5, None),
    ]
    assert problems[0].message == "gene is empty" and problems[0].variation == "V600E"
    assert "51 characters" in problems[2].message and problems[2].gene == "EGFR"
    assert "4 cells but the header has 3 columns" in problems[3].message  # no silent data loss
    assert [(r.line, r.gene) for r in records] == [(6, "TP53")]


def test_unterminated_quote_names_the_line_where_it_opened(tmp_path: Path) -> None:
    rows = "".join(f"GENE{i},V{i}E,ok\n" for i in range(5))
    path = tmp_path / "quote.csv"
    path.write_text('gene,variation,text\nBRAF,V600E,fine\nKRAS,G12D,"opens here\n' + rows)
    items = read_variants(path)
    first = next(items)
    assert isinstance(first, VariantRecord) and first.gene == "BRAF"
    with pytest.raises(DataError, match="unterminated quote") as error:
        next(items)
    assert error.value.line == 3 and "line 3" in str(error.value)

    # A second stray quote far below would close it: the run-over limit stops it first.
    many = "".join(f"GENE{i},V{i}E,ok\n" for i in range(300))
    path.write_text('gene,variation,text\nKRAS,G12D,"opens here\n' + many + 'TP53,R273C,closes"\n')
    with pytest.raises(DataError, match="unterminated quote") as error:
        list(read_variants(path))
    assert error.value.line == 2

    # A quoted text may span a few lines.
    [record] = read_text('gene,variation,text\nBRAF,V600E,"two\nlines"\n')
    assert isinstance(record, VariantRecord) and record.text == "two\nlines"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"# only a comment\n\n", "empty: no header line"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"PK\x03\x04\x14\x00\x06\x00", "ZIP archive"),
        (b"name,colour\nBRAF,red\n", "no gene column"),
        (b"gene\nBRAF\n", "no variation column"),
    ],
)
def test_unreadable_files_are_data_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        list(read_variants(path, name="x.csv"))
    assert str(error.value).startswith("x.csv")


def test_undecodable_line_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"gene,variation\nBRAF,V600E\nKRAS,G12\x81\x8d\n")
    with pytest.raises(DataError, match="undecodable") as error:
        list(read_variants(path))
    assert error.value.line == 3
    with pytest.raises(DataError, match="not found"):
        list(read_variants(tmp_path / "missing.vcf"))


def test_format_override(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("gene\tvariation\nBRAF\tp.V600E\n")
    [record] = read_variants(path, file_format="maf")
    assert isinstance(record, VariantRecord) and record.source_format == "maf"
    with pytest.raises(DataError, match="not a readable VCF"):
        list(read_variants(path, file_format=FileFormat.VCF))
    with pytest.raises(InvalidInputError, match="unknown file format"):
        read_variants(path, file_format="xlsx")


# --- protein changes and grouping --------------------------------------------------------------


@pytest.mark.parametrize(
    ("hgvsp", "short"),
    [
        ("ENSP00000288602.6:p.Val600Glu", "V600E"),
        ("p.(Arg273Cys)", "R273C"),
        ("p.Gln61Ter", "Q61*"),
        ("p.Glu746_Ala750del", "E746_A750del"),
        ("p.Arg97ProfsTer23", "R97Pfs*23"),
        ("p.Leu21_Leu22insProLeu", "L21_L22insPL"),
        ("ENSP00000358548.4:p.Leu21%3D", "L21="),
        ("p.Pro319Pro", "P319="),
        ("p.=", ""),
        ("p.?", ""),
        ("p.X2151_splice", "X2151_splice"),
        ("p.R1917T", "R1917T"),
        ("Val600Glu", "V600E"),
        ("Promoter Mutation", "Promoter Mutation"),
        ("Exon 19 Deletion", "Exon 19 Deletion"),
    ],
)
def test_short_protein_change(hgvsp: str, short: str) -> None:
    assert short_protein_change(hgvsp) == short


def test_variant_key_groups_spellings_and_positions() -> None:
    a = VariantRecord(line=1, sample="S1", gene="BRAF", variation="V600E")
    b = VariantRecord(line=9, sample="S2", gene="braf", variation="p.Val600Glu")
    assert variant_key(a) == variant_key(b) == ("BRAF", "V600E")
    intron = VariantRecord(1, "S1", "SMG7", "", chrom="1", pos=10, ref="A", alt="AG", coding=False)
    assert variant_key(intron) == ("SMG7", "1:10:A>AG")


# --- streaming --------------------------------------------------------------------------------


class CountingLines(io.TextIOBase):
    """A text stream that makes its lines on demand and counts how many were asked for."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.served = 0

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        self.served += 1
        return next(self._lines, "")


def test_tables_stream_row_by_row(tmp_path: Path) -> None:
    rows = (f"GENE{i},V{i % 900 + 1}E,some evidence text\n" for i in range(200_000))
    stream = CountingLines(_chain("gene,variation,text\n", rows))
    items = read_variants(stream)
    first = [next(items) for _ in range(3)]
    assert all(isinstance(r, VariantRecord) for r in first)
    assert stream.served <= 5  # only the lines read were made

    # Memory does not grow with the file: 20,000 rows (~1 MB) read in under 200 kB.
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("gene,variation,text\n")
        for i in range(20_000):
            handle.write(f"GENE{i},V{i % 900 + 1}E,some evidence text for this row\n")
    assert path.stat().st_size > 900_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_variants(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000 and peak < 200_000


def test_vcf_streams_record_by_record(tmp_path: Path, shared_data: Path) -> None:
    """The first record comes out before a broken tail far below is reached."""
    annotated = csq(entry("T", "missense_variant", "KRAS", "ENST2", "p.Gly12Asp"))
    good = [site("chr12", 1000 + i, "C", "T", annotated, "0/0", "0/1") for i in range(20_000)]
    tail = ["garbage"] * 30
    items = read_variants(write_vcf(tmp_path, shared_data, good + tail))
    first = next(items)
    assert isinstance(first, VariantRecord) and first.pos == 1000
    with pytest.raises(DataError, match="unparsable records in a row"):
        list(items)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
