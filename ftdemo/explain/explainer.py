"""The explain path: the method's row in the table computes word scores, then this module assembles
the compact, word-level, float16-rounded Explanation that leaves the server.
"""

from __future__ import annotations

import numpy as np

from ftdemo.explain.methods import get_method
from ftdemo.explain.model_run import EncodedInput, ExplainRequest, Scores
from ftdemo.explain.types import Explanation, MatrixView, WordScore, fp16_round
from ftdemo.explain.words import visible_indices
from ftdemo.models.inference import LoadedModel, to_prediction

# a word×word matrix grows with the square of the input; past this it is unreadable and heavy to send
MATRIX_MAX_WORDS = 128


def compute_scores(loaded: LoadedModel, x: EncodedInput, request: ExplainRequest) -> Scores:
    """Word scores for the request's method (an unknown method is an InvalidInputError naming the others)."""
    return get_method(request.method).score(loaded, x, request)


def build_explanation(loaded: LoadedModel, x: EncodedInput, scores: Scores, request: ExplainRequest, *,
                      show_special: bool) -> Explanation:
    """Assemble the compact, rounded result for the words on display."""
    method = get_method(request.method)
    keep = visible_indices(x.words, show_special)
    rounded = fp16_round(scores.word_scores[keep])
    words = [
        WordScore(x.words[i].text, s, x.words[i].segment, x.words[i].special, x.words[i].start, x.words[i].end)
        for i, s in zip(keep, rounded)
    ]
    matrix, notices = None, []
    if scores.matrix is not None and method.name == "overview":
        n_layers, n_heads = scores.matrix.shape
        matrix = MatrixView(
            [fp16_round(row) for row in scores.matrix], [f"layer {i}" for i in range(n_layers)],
            [f"head {j}" for j in range(n_heads)],
            "entropy of each head's [CLS] attention (0 = one token, 1 = spread evenly)",
        )
    elif scores.matrix is not None:
        shown = keep[:MATRIX_MAX_WORDS]
        if len(keep) > MATRIX_MAX_WORDS:
            notices.append(f"The attention matrix shows the first {MATRIX_MAX_WORDS} of {len(keep)} words.")
        sub = scores.matrix[np.ix_(shown, shown)]
        labels = [x.words[i].text for i in shown]
        segs = [x.words[i].segment for i in shown]
        head_txt = "mean of heads" if scores.head is None else f"head {scores.head}"
        matrix = MatrixView(
            [fp16_round(row) for row in sub], labels, labels,
            f"attention, layer {scores.layer}, {head_txt} (row = from, column = to)", segs, segs,
        )
    prediction = to_prediction(loaded, scores.probs, list(x.info.tokens), x.truncated)
    notices = ([prediction.notice] if prediction.notice else []) + notices
    if scores.completeness_error is not None and scores.completeness_error > 0.05:
        notices.append(
            f"Integrated Gradients is {scores.completeness_error:.0%} off completeness; use more steps"
        )
    uses_steps = method.uses("ig_steps")
    return Explanation(
        method=method.name, target_label=loaded.labels[scores.target], words=words, prediction=prediction,
        signed=method.signed, layer=scores.layer, head=scores.head,
        completeness_error=scores.completeness_error,
        ig_steps=request.ig_steps if uses_steps else None, baseline=request.baseline if uses_steps else None,
        matrix=matrix, notices=notices,
    )
