"""The explain path: one model run for the view asked, then the pure functions of this package.

Attention views run the eager-attention twin of the model once (attentions are
only computed here, never on the fast path) and keep just the layer/head the view
needs; Integrated Gradients runs the SDPA model with gradients. Everything
returned is word-level and rounded to float16 precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ftdemo.errors import InvalidInputError
from ftdemo.explain.attention import cls_attention, cls_entropy, resolve_head, resolve_layer, select_head
from ftdemo.explain.gradients import BASELINES, integrated_gradients
from ftdemo.explain.rollout import rollout
from ftdemo.explain.types import METHODS, Explanation, MatrixView, WordScore, fp16_round
from ftdemo.explain.words import (
    TokenInfo, WordSpan, group_words, pool_matrix, pool_scores, token_info, visible_indices,
)
from ftdemo.inference import LoadedModel, encode, probabilities, to_prediction


# a word×word matrix grows with the square of the input; past this it is unreadable and heavy to send
MATRIX_MAX_WORDS = 128


@dataclass(frozen=True)
class EncodedInput:
    """One input, tokenised, with its words."""

    enc: dict  # tensors of batch size 1 (input_ids, attention_mask, token_type_ids?)
    texts: list[str]
    info: TokenInfo
    words: list[WordSpan]
    truncated: bool


@dataclass(frozen=True)
class Scores:
    """Per-word scores for every word (specials included) plus what the view adds."""

    word_scores: np.ndarray
    probs: np.ndarray
    layer: int | None = None
    head: int | None = None
    matrix: np.ndarray | None = None  # word×word (matrix) or layers×heads (overview)
    completeness_error: float | None = None


def encode_one(loaded: LoadedModel, text: str, text_pair: str | None) -> EncodedInput:
    """Tokenise one input (no padding) and group its pieces into words."""
    batch = encode(loaded, [text], [text_pair] if text_pair is not None else None)
    info = token_info(batch.encodings[0])
    texts = [text] if text_pair is None else [text, text_pair]
    tensors = {k: v.to(loaded.device) for k, v in batch.tensors.items()}
    return EncodedInput(tensors, texts, info, group_words(info, texts), batch.truncated[0])


def _unpadded(x: EncodedInput) -> dict:
    """Model inputs without the mask: a batch of one has no padding, and no mask means less work."""
    return {k: v for k, v in x.enc.items() if k != "attention_mask"}


def resolve_target(loaded: LoadedModel, target_label: str | None, probs: np.ndarray) -> int:
    """The label to explain: the one asked for, or the most probable."""
    if target_label is None:
        return int(np.argmax(probs))
    if target_label not in loaded.labels:
        raise InvalidInputError(f"label {target_label!r} is not one of this model's labels: {', '.join(loaded.labels)}")
    return loaded.labels.index(target_label)


def attention_scores(loaded: LoadedModel, x: EncodedInput, method: str, layer: int, head: int | None) -> Scores:
    """cls / rollout / matrix / overview from one eager forward."""
    layer_idx = resolve_layer(layer, loaded.num_layers)
    head_idx = resolve_head(head, loaded.num_heads)
    with torch.inference_mode():
        out = loaded.explain_model(**_unpadded(x), output_attentions=True)
        attentions = out.attentions  # per layer [1, heads, T, T]
        probs = probabilities(loaded, out.logits)[0]
        if method in ("cls", "matrix"):
            matrix = select_head(attentions[layer_idx][0].double().cpu().numpy(), head_idx)
            scores = pool_scores(x.words, cls_attention(matrix))
            words_matrix = pool_matrix(x.words, matrix) if method == "matrix" else None
            return Scores(scores, probs, layer_idx, head_idx, words_matrix)
        if method == "rollout":
            per_layer = torch.stack([a[0].mean(dim=0) for a in attentions[: layer_idx + 1]]).double().cpu().numpy()
            return Scores(pool_scores(x.words, cls_attention(rollout(per_layer))), probs, layer_idx, None)
        # overview: [CLS] rows of every head; the words get their mean over all heads and layers
        cls_rows = torch.stack([a[0, :, :1, :] for a in attentions]).double().cpu().numpy()  # [L, H, 1, T]
        scores = pool_scores(x.words, cls_rows[:, :, 0, :].mean(axis=(0, 1)))
        return Scores(scores, probs, None, None, cls_entropy(cls_rows))


def ig_scores(
    loaded: LoadedModel, x: EncodedInput, target_label: str | None, steps: int, baseline: str
) -> tuple[Scores, int]:
    """Integrated Gradients for the target label (default: the predicted one)."""
    with torch.inference_mode():
        probs = probabilities(loaded, loaded.model(**_unpadded(x)).logits)[0]
    target = resolve_target(loaded, target_label, probs)
    special = torch.tensor([x.info.special], device=loaded.device)
    result = integrated_gradients(
        loaded.model, x.enc["input_ids"], x.enc["attention_mask"], x.enc.get("token_type_ids"), special,
        target=target, pad_token_id=int(loaded.tokenizer.pad_token_id or 0), steps=steps, baseline=baseline,
    )
    scores = pool_scores(x.words, result.token_scores)
    return Scores(scores, probs, completeness_error=result.completeness_error), target


def compute_scores(
    loaded: LoadedModel, x: EncodedInput, *, method: str, layer: int = -1, head: int | None = None,
    target_label: str | None = None, ig_steps: int = 32, baseline: str = "pad",
) -> tuple[Scores, int]:
    """Word scores for one method; returns them with the target label index."""
    if method not in METHODS:
        raise InvalidInputError(f"unknown explanation method {method!r}; choose one of: {', '.join(METHODS)}")
    if baseline not in BASELINES:
        raise InvalidInputError(f"unknown baseline {baseline!r}; choose one of: {', '.join(BASELINES)}")
    if method == "ig":
        return ig_scores(loaded, x, target_label, ig_steps, baseline)
    scores = attention_scores(loaded, x, method, layer, head)
    return scores, resolve_target(loaded, target_label, scores.probs)


def build_explanation(
    loaded: LoadedModel, x: EncodedInput, scores: Scores, *, method: str, target: int, show_special: bool,
    ig_steps: int, baseline: str,
) -> Explanation:
    """Assemble the compact, rounded result for the words on display."""
    keep = visible_indices(x.words, show_special)
    rounded = fp16_round(scores.word_scores[keep])
    words = [
        WordScore(x.words[i].text, s, x.words[i].segment, x.words[i].special, x.words[i].start, x.words[i].end)
        for i, s in zip(keep, rounded)
    ]
    matrix, notices = None, []
    if method == "matrix":
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
    elif method == "overview":
        n_layers, n_heads = scores.matrix.shape
        matrix = MatrixView(
            [fp16_round(row) for row in scores.matrix], [f"layer {i}" for i in range(n_layers)],
            [f"head {j}" for j in range(n_heads)],
            "entropy of each head's [CLS] attention (0 = one token, 1 = spread evenly)",
        )
    prediction = to_prediction(loaded, scores.probs, list(x.info.tokens), x.truncated)
    notices = ([prediction.notice] if prediction.notice else []) + notices
    if scores.completeness_error is not None and scores.completeness_error > 0.05:
        notices.append(
            f"Integrated Gradients is {scores.completeness_error:.0%} off completeness; use more steps"
        )
    return Explanation(
        method=method, target_label=loaded.labels[target], words=words, prediction=prediction,
        signed=method == "ig", layer=scores.layer, head=scores.head,
        completeness_error=scores.completeness_error,
        ig_steps=ig_steps if method == "ig" else None, baseline=baseline if method == "ig" else None,
        matrix=matrix, notices=notices,
    )
