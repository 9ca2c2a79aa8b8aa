"""Probability calibration on held-out data, so that a confidence of 0.8 means about 80%.

Temperature scaling (Guo et al., 2017) divides the logits by one learned temperature, fitted by
minimising the validation log loss. A bias per class could also undo the prior shift of
class-weighted training, but fitted on a validation slice of ~300 items grouped by paper it
overfits the slice: measured on the grouped CV folds of CIViC, a temperature alone gave a lower
log loss for every model and seed (docs/experiments/calibration). On MSKCC's mutation effect
(nine fixed classes, variants not grouped by paper) the bias wins on every seed. So each task
says which it gets (``Task.calibration_class_bias``; the bias is L2-regularised), and
checkpoints keep the calibration they were fitted with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Calibrator:
    """Calibrates logits: ``softmax(logits / T)``, or ``softmax(logits / T + b)`` with a class
    bias. Identity until fitted."""

    class_bias: bool = False
    bias_l2: float = 1e-2
    temperature_: float = 1.0
    bias_: list[float] = field(default_factory=list)

    def fit(self, logits: np.ndarray, y: np.ndarray, max_iter: int = 200) -> Calibrator:
        """Fit on validation ``logits`` (n, k) and integer labels ``y`` (n,)."""
        x = torch.as_tensor(logits, dtype=torch.float64)
        t = torch.as_tensor(y, dtype=torch.long)
        log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # T = exp(log_t) > 0
        bias = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=self.class_bias)
        params = [log_t, bias] if self.class_bias else [log_t]
        opt = torch.optim.LBFGS(params, lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            nll = torch.nn.functional.cross_entropy(x / log_t.exp() + bias, t)
            loss = nll + self.bias_l2 * (bias**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.temperature_ = float(log_t.exp().item())
        self.bias_ = bias.detach().tolist() if self.class_bias else []
        return self

    def transform(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (n, k)."""
        z = np.asarray(logits, dtype=np.float64) / self.temperature_
        if self.bias_:
            z = z + np.asarray(self.bias_)
        return softmax(z)

    def to_dict(self) -> dict[str, float | list[float]]:
        return {
            "temperature": self.temperature_,
            "bias": self.bias_,
            "class_bias": self.class_bias,
            "bias_l2": self.bias_l2,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        # A card without "class_bias" was fitted when every calibrator learned a bias.
        return cls(
            class_bias=d.get("class_bias", True),
            bias_l2=d.get("bias_l2", 1e-2),
            temperature_=d["temperature"],
            bias_=d["bias"],
        )
