"""``GET /v1/knowledge``: what CIViC says about a variant, every item reachable by pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oncoclass.api.deps import ServiceDep, protected
from oncoclass.data.records import Sample
from oncoclass.schemas import (
    MAX_DISEASE_CHARS,
    MAX_DRUG_CHARS,
    MAX_DRUGS,
    MAX_GENE_CHARS,
    MAX_VARIATION_CHARS,
    KnowledgeMatchPublic,
)

router = APIRouter(prefix="/v1", tags=["knowledge"], **protected("predict"))

MAX_PAGE = 200


@router.get("/knowledge", summary="CIViC evidence, tier, therapies and assertions of a variant")
def knowledge(
    service: ServiceDep,
    gene: Annotated[str, Query(min_length=1, max_length=MAX_GENE_CHARS)],
    variation: Annotated[str, Query(min_length=1, max_length=MAX_VARIATION_CHARS)],
    disease: Annotated[
        str, Query(max_length=MAX_DISEASE_CHARS, description="Rank this disease first.")
    ] = "",
    therapies: Annotated[
        list[str] | None,
        Query(max_length=MAX_DRUGS, description="Rank evidence on these therapies first."),
    ] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> KnowledgeMatchPublic:
    """The knowledge-base look-up of ``POST /v1/predict``, on its own and paged: ``total`` items
    match, this page holds ``limit`` of them from ``offset``. ``available`` is false (with a
    reason) when the knowledge base is missing: then nothing is known, not "no evidence"."""
    drugs = tuple(t[:MAX_DRUG_CHARS] for t in therapies or ())
    sample = Sample(id="query", gene=gene, variation=variation, disease=disease, drugs=drugs)
    match = service.knowledge.lookup(
        sample.gene,
        sample.variation,
        limit=limit,
        offset=offset,
        disease=sample.disease,
        therapies=sample.drugs,
    )
    return KnowledgeMatchPublic.from_match(match)
