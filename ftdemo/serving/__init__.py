"""Serving: the Predictor answers predictions and explanations from one model version, swappable live.

`predictor.py` holds the Predictor (fast batched path, explain path, hot swap); `batching.py` the
micro-batching queue it uses (knows nothing about models).
"""

from ftdemo.serving.predictor import Predictor

__all__ = ["Predictor"]
