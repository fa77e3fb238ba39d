"""Explanations of a classifier's prediction, word by word.

Pure functions over numpy arrays (words, attention, rollout, faithfulness,
render) plus the two modules that touch the model (gradients, engine). The
Predictor in ftdemo.serving is the entry point most callers want.
"""

from ftdemo.explain.types import METHODS, Explanation, MatrixView, WordScore, fp16_round

__all__ = ["METHODS", "Explanation", "MatrixView", "WordScore", "fp16_round"]
