"""Protein changes as annotators write them, in the short one-letter form OncoClass parses."""

from __future__ import annotations

import re
from urllib.parse import unquote

from oncoclass.features.variation import ONE_TO_THREE

#: Three-letter residue codes (Xxx-cased, as HGVS writes them) -> one-letter codes.
THREE_TO_ONE: dict[str, str] = {
    **{three: one for one, three in ONE_TO_THREE.items()},
    "Sec": "U",  # selenocysteine
    "Pyl": "O",  # pyrrolysine
    "Xaa": "X",  # unknown residue
}
_THREE = re.compile("|".join(THREE_TO_ONE))
#: ``ENSP00000288602.6:`` or ``NP_004324.2:`` in front of a ``p.`` change.
_ACCESSION = re.compile(r"^[A-Za-z0-9_.\-]+:(?=p\.)")
#: A bare change that starts with a three-letter residue: ``Val600Glu``, ``Ter330Arg``.
_STARTS_THREE = re.compile(rf"^(?:{_THREE.pattern})\d")
#: HGVS for "no change", "unknown" and "no protein": nothing to classify.
_NO_CHANGE = {"", "=", "?", "0", "0?"}
_SAME_RESIDUE = re.compile(r"^([A-Z*])(\d+)\1$")


def short_protein_change(value: str) -> str:
    """``ENSP...:p.Val600Glu`` -> ``V600E``, ``p.(Arg273Cys)`` -> ``R273C``, ``p.R1917T`` ->
    ``R1917T``, ``p.Leu21%3D`` -> ``L21=``; ``p.=`` and ``p.?`` -> ``""`` (no protein change).

    The transcript prefix, ``p.`` and parentheses go; URL escapes (VEP writes ``=`` as ``%3D``) are
    undone; three-letter residues become one-letter ones. Anything that is not HGVS protein
    notation (``Exon 19 Deletion``, ``Amplification``, ``Promoter Mutation``) is returned as is,
    stripped: converting "Pro" in "Promoter" would corrupt it.
    """
    text = unquote(value.strip())
    text = _ACCESSION.sub("", text)
    is_hgvs = text.startswith("p.")
    text = text.removeprefix("p.").strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if is_hgvs and text in _NO_CHANGE:
        return ""
    if is_hgvs or _STARTS_THREE.match(text):
        # Keywords (del, ins, dup, fs, ext, delins) are lower-case, so only residues match.
        text = _THREE.sub(lambda m: THREE_TO_ONE[m.group(0)], text)
        # SnpEff writes a synonymous change as "p.Pro319Pro"; VEP and HGVS as "p.Pro319=".
        return _SAME_RESIDUE.sub(r"\1\2=", text)
    return text
