"""One router per resource: predict, predictions (history), model, health (+ metrics)."""
