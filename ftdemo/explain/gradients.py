"""Integrated Gradients (Sundararajan et al., 2017) on the input word embeddings.

We use Captum's IntegratedGradients, the field's reference implementation, on the
embedding vectors (``inputs_embeds``), which is what LayerIntegratedGradients on
the word-embedding layer computes, but lets one code path take either baseline:
"pad" (each word's embedding replaced by the [PAD] embedding) or "zero" (a zero
vector). [CLS]/[SEP] keep their own embedding in the baseline, so they get no
attribution and the scores are about the user's words. Position and segment
embeddings are added by the model on both sides, so they cancel.

Completeness — attributions sum to logit(x) − logit(baseline) — is reported as a
relative error with every result: it is the check that the path integral was
approximated with enough steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ftdemo.errors import InvalidInputError

BASELINES = ("pad", "zero")


@dataclass(frozen=True)
class IGResult:
    token_scores: np.ndarray  # [T] attribution per token (summed over the embedding dims)
    logit_delta: float  # logit(x) - logit(baseline) for the target label
    completeness_error: float  # |sum(scores) - logit_delta| / max(|logit_delta|, 1e-6)
    steps: int
    baseline: str


def baseline_embeddings(
    embeddings: torch.Tensor, input_ids: torch.Tensor, special_mask: torch.Tensor, embedding_layer: torch.nn.Module,
    *, baseline: str, pad_token_id: int,
) -> torch.Tensor:
    """The reference input: [PAD] or zero vectors for word tokens, special tokens unchanged."""
    if baseline not in BASELINES:
        raise InvalidInputError(f"unknown baseline {baseline!r}; choose one of: {', '.join(BASELINES)}")
    keep = special_mask.to(torch.bool).unsqueeze(-1)  # [1, T, 1]
    if baseline == "zero":
        words = torch.zeros_like(embeddings)
    else:
        pad_ids = torch.full_like(input_ids, pad_token_id)
        words = embedding_layer(pad_ids)
    return torch.where(keep, embeddings, words)


def integrated_gradients(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    token_type_ids: torch.Tensor | None,
    special_mask: torch.Tensor,
    *,
    target: int,
    pad_token_id: int,
    steps: int = 32,
    baseline: str = "pad",
    max_tokens_per_pass: int = 4096,
) -> IGResult:
    """Attribute the target label's logit to each input token of a batch-of-one encoding.

    steps: points on the straight path from baseline to input (Gauss–Legendre
    quadrature); more steps, smaller completeness error, proportionally slower.
    max_tokens_per_pass bounds memory: interpolation steps are run in chunks of at
    most that many tokens (steps × sequence length).
    """
    from captum.attr import IntegratedGradients  # imported here: only the explain path needs it

    if not 1 <= steps <= 1024:
        raise InvalidInputError(f"ig_steps must be between 1 and 1024, got {steps}")
    if input_ids.shape[0] != 1:
        raise ValueError("integrated_gradients explains one input at a time")
    embedding_layer = model.get_input_embeddings()
    seq_len = input_ids.shape[1]

    def forward(embeds: torch.Tensor) -> torch.Tensor:
        n = embeds.shape[0]
        kwargs = {"attention_mask": attention_mask.expand(n, -1)}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids.expand(n, -1)
        return model(inputs_embeds=embeds, **kwargs).logits

    # a request thread may sit inside inference_mode; gradients need it off
    with torch.inference_mode(False), torch.enable_grad():
        embeds = embedding_layer(input_ids).detach()
        base = baseline_embeddings(
            embeds, input_ids, special_mask, embedding_layer, baseline=baseline, pad_token_id=pad_token_id
        ).detach()
        ig = IntegratedGradients(forward)
        attributions, delta = ig.attribute(
            embeds,
            baselines=base,
            target=target,
            n_steps=steps,
            internal_batch_size=max(1, max_tokens_per_pass // max(seq_len, 1)),
            return_convergence_delta=True,
        )
    token_scores = attributions.sum(dim=-1)[0].detach().cpu().double().numpy()
    total = float(token_scores.sum())
    logit_delta = total - float(delta.item())  # captum: delta = sum(attr) - (F(x) - F(baseline))
    error = abs(total - logit_delta) / max(abs(logit_delta), 1e-6)
    return IGResult(token_scores, logit_delta, error, steps, baseline)
