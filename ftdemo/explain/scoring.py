"""Word scores of each explanation method: one forward (or IG's backward passes) over one encoded input,
then the pure pieces of this package (attention views, rollout, gradients, word pooling). The
methods table (methods.py) names one function here per method.
"""

from __future__ import annotations

import torch

from ftdemo.errors import InvalidInputError
from ftdemo.explain.attention import cls_attention, cls_entropy, resolve_head, resolve_layer, select_head
from ftdemo.explain.gradients import BASELINES, integrated_gradients
from ftdemo.explain.model_run import (
    EncodedInput,
    ExplainRequest,
    Scores,
    resolve_target,
    run_probabilities,
    run_with_attentions,
)
from ftdemo.explain.rollout import rollout
from ftdemo.explain.words import pool_matrix, pool_scores
from ftdemo.models.inference import LoadedModel


def _layer_head(loaded: LoadedModel, request: ExplainRequest) -> tuple[int, int | None]:
    return resolve_layer(request.layer, loaded.num_layers), resolve_head(request.head, loaded.num_heads)


def cls_scores(loaded: LoadedModel, x: EncodedInput, request: ExplainRequest) -> Scores:
    layer, head = _layer_head(loaded, request)
    attentions, probs = run_with_attentions(loaded, x)
    matrix = select_head(attentions[layer][0].double().cpu().numpy(), head)
    return Scores(pool_scores(x.words, cls_attention(matrix)), probs, resolve_target(loaded, request.target_label,
                                                                                        probs), layer, head)


def matrix_scores(loaded: LoadedModel, x: EncodedInput, request: ExplainRequest) -> Scores:
    layer, head = _layer_head(loaded, request)
    attentions, probs = run_with_attentions(loaded, x)
    matrix = select_head(attentions[layer][0].double().cpu().numpy(), head)
    return Scores(pool_scores(x.words, cls_attention(matrix)), probs, resolve_target(loaded, request.target_label,
                                                                                        probs),
                  layer, head, pool_matrix(x.words, matrix))


def rollout_scores(loaded: LoadedModel, x: EncodedInput, request: ExplainRequest) -> Scores:
    layer = resolve_layer(request.layer, loaded.num_layers)
    attentions, probs = run_with_attentions(loaded, x)
    per_layer = torch.stack([a[0].mean(dim=0) for a in attentions[: layer + 1]]).double().cpu().numpy()
    return Scores(pool_scores(x.words, cls_attention(rollout(per_layer))), probs,
                  resolve_target(loaded, request.target_label, probs), layer)


def overview_scores(loaded: LoadedModel, x: EncodedInput, request: ExplainRequest) -> Scores:
    attentions, probs = run_with_attentions(loaded, x)
    cls_rows = torch.stack([a[0, :, :1, :] for a in attentions]).double().cpu().numpy()  # [L, H, 1, T]
    # the words get their mean [CLS] attention over all heads and layers; the map, each head's entropy
    return Scores(pool_scores(x.words, cls_rows[:, :, 0, :].mean(axis=(0, 1))), probs,
                  resolve_target(loaded, request.target_label, probs), matrix=cls_entropy(cls_rows))


def ig_scores(loaded: LoadedModel, x: EncodedInput, request: ExplainRequest) -> Scores:
    if request.baseline not in BASELINES:
        raise InvalidInputError(f"unknown baseline {request.baseline!r}; choose one of: {', '.join(BASELINES)}")
    probs = run_probabilities(loaded, x)
    target = resolve_target(loaded, request.target_label, probs)
    special = torch.tensor([x.info.special], device=loaded.device)
    result = integrated_gradients(
        loaded.model, x.enc["input_ids"], x.enc["attention_mask"], x.enc.get("token_type_ids"), special,
        target=target, pad_token_id=int(loaded.tokenizer.pad_token_id or 0), steps=request.ig_steps,
        baseline=request.baseline,
    )
    return Scores(pool_scores(x.words, result.token_scores), probs, target,
                  completeness_error=result.completeness_error)
