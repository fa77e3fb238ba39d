"""The model side of an explanation: tokenise one input into words, run the model once for what a
method needs, and the per-word scores that come back.

Attention methods read the eager-attention twin of the model (attentions are only computed here,
never on the fast path); gradient methods run the SDPA model with gradients (gradients.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ftdemo.errors import InvalidInputError
from ftdemo.explain.words import TokenInfo, WordSpan, group_words, token_info
from ftdemo.models.inference import LoadedModel, encode, probabilities


@dataclass(frozen=True)
class EncodedInput:
    """One input, tokenised, with its words."""

    enc: dict  # tensors of batch size 1 (input_ids, attention_mask, token_type_ids?)
    texts: list[str]
    info: TokenInfo
    words: list[WordSpan]
    truncated: bool

    def unpadded(self) -> dict:
        """Model inputs without the mask: a batch of one has no padding, and no mask means less work."""
        return {k: v for k, v in self.enc.items() if k != "attention_mask"}


@dataclass(frozen=True)
class Scores:
    """Per-word scores for every word (specials included), the probabilities, and what the view adds."""

    word_scores: np.ndarray
    probs: np.ndarray
    target: int  # index of the label the scores are about
    layer: int | None = None
    head: int | None = None
    matrix: np.ndarray | None = None  # word×word (matrix) or layers×heads (overview)
    completeness_error: float | None = None


@dataclass(frozen=True)
class ExplainRequest:
    """What one explanation asks for; each method reads the options its table row names."""

    method: str = "cls"
    layer: int = -1  # 0-based; -1 = the last layer
    head: int | None = None  # None = mean of heads
    target_label: str | None = None  # None = the predicted label
    ig_steps: int = 32
    baseline: str = "pad"


def encode_one(loaded: LoadedModel, text: str, text_pair: str | None) -> EncodedInput:
    """Tokenise one input (no padding) and group its pieces into words."""
    batch = encode(loaded, [text], [text_pair] if text_pair is not None else None)
    info = token_info(batch.encodings[0])
    texts = [text] if text_pair is None else [text, text_pair]
    tensors = {k: v.to(loaded.device) for k, v in batch.tensors.items()}
    return EncodedInput(tensors, texts, info, group_words(info, texts), batch.truncated[0])


def resolve_target(loaded: LoadedModel, target_label: str | None, probs: np.ndarray) -> int:
    """The label to explain: the one asked for, or the most probable."""
    if target_label is None:
        return int(np.argmax(probs))
    if target_label not in loaded.labels:
        raise InvalidInputError(f"label {target_label!r} is not one of this model's labels: {', '.join(loaded.labels)}")
    return loaded.labels.index(target_label)


def run_with_attentions(loaded: LoadedModel, x: EncodedInput) -> tuple[tuple[torch.Tensor, ...], np.ndarray]:
    """One eager forward: every layer's attention ([1, heads, T, T] each) and the probabilities."""
    with torch.inference_mode():
        out = loaded.explain_model(**x.unpadded(), output_attentions=True)
        return out.attentions, probabilities(loaded, out.logits)[0]


def run_probabilities(loaded: LoadedModel, x: EncodedInput) -> np.ndarray:
    """One fast forward (SDPA, no attentions): the probabilities."""
    with torch.inference_mode():
        return probabilities(loaded, loaded.model(**x.unpadded()).logits)[0]
