"""Probability calibration on held-out data, so that a confidence of 0.8 means about 80%.

Temperature scaling (Guo et al., 2017) divides the logits by one learned temperature; we also
learn one bias per class, because class-weighted training shifts the predicted class prior and a
single temperature cannot undo a shift. Both are fitted by minimising the validation log loss;
the bias is L2-regularised so that a small validation set cannot overfit it.
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
    """Calibrates logits: ``softmax(logits / T + b)``. Identity until fitted."""

    bias_l2: float = 1e-2
    temperature_: float = 1.0
    bias_: list[float] = field(default_factory=list)

    def fit(self, logits: np.ndarray, y: np.ndarray, max_iter: int = 200) -> Calibrator:
        """Fit on validation ``logits`` (n, k) and integer labels ``y`` (n,)."""
        x = torch.as_tensor(logits, dtype=torch.float64)
        t = torch.as_tensor(y, dtype=torch.long)
        log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # T = exp(log_t) > 0
        bias = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS(
            [log_t, bias], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            opt.zero_grad()
            nll = torch.nn.functional.cross_entropy(x / log_t.exp() + bias, t)
            loss = nll + self.bias_l2 * (bias**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.temperature_ = float(log_t.exp().item())
        self.bias_ = bias.detach().tolist()
        return self

    def transform(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (n, k)."""
        z = np.asarray(logits, dtype=np.float64) / self.temperature_
        if self.bias_:
            z = z + np.asarray(self.bias_)
        return softmax(z)

    def to_dict(self) -> dict[str, float | list[float]]:
        return {"temperature": self.temperature_, "bias": self.bias_, "bias_l2": self.bias_l2}

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        return cls(bias_l2=d.get("bias_l2", 1e-2), temperature_=d["temperature"], bias_=d["bias"])
