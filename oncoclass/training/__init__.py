"""Training: the Trainer for the neural models and probability calibration."""

from oncoclass.training.calibration import Calibrator
from oncoclass.training.trainer import Trainer, TrainerConfig

__all__ = ["Calibrator", "Trainer", "TrainerConfig"]
