"""The multi-modal network: a text branch fused with a genomic branch.

    text branch     (B, ...)            -> (B, text_dim)      CNN over tokens, or a sentence encoder
    genomic branch  gene, variation,    -> (B, genomic_dim)   embeddings + parsed variation features
                    disease, drugs, dense
    fusion          concat              -> (B, text_dim + genomic_dim)
    head            dropout -> Linear -> ReLU -> dropout -> Linear -> (B, n_classes) logits

``forward(batch)`` follows the one model contract: it returns ``logits`` and ``y_prob`` and, when
the batch carries ``label``, the class-weighted cross-entropy ``loss``.
"""

from __future__ import annotations

import torch
from torch import nn


class GenomicBranch(nn.Module):
    def __init__(
        self,
        n_genes: int,
        n_variations: int,
        n_diseases: int,
        n_drugs: int,
        n_dense: int,
        emb_dim: int = 32,
        out_dim: int = 64,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        # Index 0 of every table is the unknown bucket: never seen in training, still a valid input.
        self.gene = nn.Embedding(n_genes, emb_dim)
        self.variation = nn.Embedding(n_variations, emb_dim)
        self.disease = nn.Embedding(n_diseases, emb_dim // 2)
        self.drugs = nn.Embedding(n_drugs, emb_dim // 2, padding_idx=0)
        in_dim = 2 * emb_dim + emb_dim + n_dense
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, out_dim), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        drugs = batch["drugs"]  # (B, max_drugs), 0 = none
        mask = (drugs != 0).unsqueeze(-1).float()  # (B, max_drugs, 1)
        drug_vec = (self.drugs(drugs) * mask).sum(1) / mask.sum(1).clamp(min=1)  # mean of drugs
        x = torch.cat(
            [
                self.gene(batch["gene"]),  # (B, emb)
                self.variation(batch["variation"]),  # (B, emb)
                self.disease(batch["disease"]),  # (B, emb/2)
                drug_vec,  # (B, emb/2)
                batch["dense"],  # (B, n_dense)
            ],
            dim=1,
        )
        return self.mlp(x)  # (B, out_dim)


class FusionNet(nn.Module):
    def __init__(
        self,
        text: nn.Module,
        text_dim: int,
        genomic: GenomicBranch,
        n_classes: int,
        hidden: int = 128,
        dropout: float = 0.3,
        class_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.text = text
        self.genomic = genomic
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(text_dim + genomic.out_dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )
        weights = class_weights if class_weights is not None else torch.ones(n_classes)
        self.register_buffer("class_weights", weights.float())

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        fused = torch.cat([self.text(batch), self.genomic(batch)], dim=1)  # (B, text+genomic)
        logits = self.head(fused)  # (B, n_classes)
        out = {"logits": logits, "y_prob": logits.softmax(dim=1)}
        if "label" in batch:
            out["loss"] = nn.functional.cross_entropy(
                logits, batch["label"], weight=self.class_weights
            )
        return out
