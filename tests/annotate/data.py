"""The real input files of the annotation tests, and bigger cohorts made from them."""

from __future__ import annotations

from pathlib import Path

MAF = "msk_summit_neratinib/data_mutations_extended.txt"
VCF_VEP = "vcf/pvactools_protein_altering_TN_GRCh38_vep95.vcf"
VCF_HCC = "vcf/pvactools_HCC1395_somatic_GRCh37_vep95.vcf"
VCF_SNPEFF = "vcf/umccr_vcfstuff_ICGC-MB_vardict_somatic_GRCh37_snpeff43.vcf"
BILIARY = "Biliary Tract Cancer"


def repeat_maf(maf: Path, out: Path, copies: int) -> Path:
    """The real MAF's rows ``copies`` times, each copy with new sample ids (a bigger cohort)."""
    lines = maf.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    column = header.rstrip("\n").split("\t").index("Tumor_Sample_Barcode")
    with out.open("w", encoding="utf-8") as handle:
        handle.write(header)
        for copy in range(copies):
            for row in rows:
                cells = row.rstrip("\n").split("\t")
                cells[column] = f"{cells[column]}-c{copy}"
                handle.write("\t".join(cells) + "\n")
    return out
