"""Explanations of a classifier's prediction, word by word.

`methods.py` is the table of explanation methods that every face reads; `explainer.py` runs the
method's row and assembles the Explanation; `model_run.py` is the only module that runs the model.
The rest are pure functions over numpy arrays: words, attention, rollout, gradients (Captum's IG),
faithfulness and render (escaped HTML). The Predictor in ftdemo.serving is the entry point most
callers want.
"""

from ftdemo.explain.methods import METHODS, Method, get_method
from ftdemo.explain.types import Explanation, MatrixView, WordScore, fp16_round

__all__ = ["METHODS", "Explanation", "MatrixView", "Method", "WordScore", "fp16_round", "get_method"]
