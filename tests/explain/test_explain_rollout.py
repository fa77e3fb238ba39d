"""Attention rollout math (Abnar & Zuidema 2020) and the raw-attention helpers."""

from __future__ import annotations

import numpy as np
import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.explain.attention import cls_entropy, resolve_head, resolve_layer, select_head
from ftdemo.explain.rollout import add_residual, rollout


def random_attention(shape, seed=0):
    a = np.random.default_rng(seed).random(shape)
    return a / a.sum(axis=-1, keepdims=True)


def test_rollout_of_identity_is_identity():
    eye = np.broadcast_to(np.eye(5), (4, 5, 5))
    np.testing.assert_allclose(rollout(eye), np.eye(5))


def test_rollout_rows_sum_to_one():
    r = rollout(random_attention((6, 4, 7, 7)))  # [layers, heads, T, T], heads averaged inside
    np.testing.assert_allclose(r.sum(axis=1), 1.0)


def test_rollout_one_layer_is_half_attention_half_identity():
    a = random_attention((1, 5, 5))
    np.testing.assert_allclose(rollout(a), 0.5 * a[0] + 0.5 * np.eye(5))


def test_rollout_multiplies_later_layers_on_the_left():
    a = random_attention((2, 4, 4), seed=3)
    r1, r2 = add_residual(a[0]), add_residual(a[1])
    np.testing.assert_allclose(rollout(a), r2 @ r1)


def test_select_head_mean_keeps_rows_stochastic():
    a = random_attention((3, 6, 6))
    np.testing.assert_allclose(select_head(a, None).sum(axis=1), 1.0)
    np.testing.assert_allclose(select_head(a, 2), a[2])


def test_entropy_of_cls_rows():
    one_hot = np.zeros((1, 2, 4, 4))
    one_hot[0, 0, 0, 1] = 1.0
    one_hot[0, 1, 0, :] = 0.25
    ent = cls_entropy(one_hot)
    assert ent[0, 0] == pytest.approx(0.0, abs=1e-9) and ent[0, 1] == pytest.approx(1.0)


def test_layer_and_head_indices_are_checked():
    assert resolve_layer(-1, 6) == 5 and resolve_layer(0, 6) == 0
    with pytest.raises(InvalidInputError, match="6 layers"):
        resolve_layer(6, 6)
    assert resolve_head(None, 12) is None
    with pytest.raises(InvalidInputError, match="12 heads"):
        resolve_head(12, 12)
