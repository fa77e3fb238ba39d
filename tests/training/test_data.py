"""Tokenized features, token-budget batching and collation."""

from __future__ import annotations

import random

import pytest
import torch

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training.data import collate, real_token_share, snapshot_hash, token_budget_batches, tokenize


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from ftdemo.settings import bundled_model_path

    return AutoTokenizer.from_pretrained(bundled_model_path())


def _lengths(n=1000, seed=0):
    rng = random.Random(seed)
    return [rng.choice([rng.randint(3, 12), rng.randint(10, 60), rng.randint(50, 200)]) for _ in range(n)]


@pytest.mark.parametrize("seed", [None, 0, 1])
@pytest.mark.parametrize("budget", [64, 256, 1000])
def test_batches_cover_every_example_once_and_respect_the_budget(seed, budget):
    lengths = _lengths()
    batches = token_budget_batches(lengths, budget, seed=seed, max_examples=48)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 48
        padded = len(b) * max(lengths[i] for i in b)
        assert padded <= budget or len(b) == 1  # a single over-long example may exceed it alone


def test_batches_are_length_homogeneous_and_shuffled():
    lengths = _lengths()
    shuffled = token_budget_batches(lengths, 512, seed=0)
    assert real_token_share(lengths, shuffled) > 0.9
    firsts = [max(lengths[i] for i in b) for b in shuffled[:20]]
    assert firsts != sorted(firsts)  # batch order is not a length curriculum


def test_batches_are_reproducible_per_seed_and_differ_across_seeds():
    lengths = _lengths()
    assert token_budget_batches(lengths, 512, seed=3) == token_budget_batches(lengths, 512, seed=3)
    assert token_budget_batches(lengths, 512, seed=3) != token_budget_batches(lengths, 512, seed=4)


def test_evaluation_batches_are_sorted_by_length():
    lengths = _lengths(200)
    batches = token_budget_batches(lengths, 1024)
    flat = [i for b in batches for i in b]
    assert [lengths[i] for i in flat] == sorted(lengths)


def test_budget_must_be_positive_and_empty_input_gives_no_batches():
    assert token_budget_batches([], 10, seed=0) == []
    with pytest.raises(InvalidInputError):
        token_budget_batches([3], 0)


def test_tokenize_single_keeps_plain_int_lists_without_padding(tokenizer):
    data = [LabelledText(7, "a short one", None, ("b",)), LabelledText(8, "a much longer text here " * 3, None, ("a",))]
    feats = tokenize(data, tokenizer, ["a", "b"], TaskType.SINGLE_LABEL, max_length=16)
    assert feats.ids == [7, 8] and feats.targets == [[1], [0]]
    assert feats.token_type_ids is None
    assert all(isinstance(t, int) for t in feats.input_ids[0])
    assert len(feats.input_ids[0]) < len(feats.input_ids[1]) == 16  # no padding; truncated to max_length


def test_tokenize_pair_has_token_type_ids_and_truncates_longest_first(tokenizer):
    data = [LabelledText(1, "premise text", "hypothesis " * 40, ("x",))]
    feats = tokenize(data, tokenizer, ["x", "y"], TaskType.PAIR, max_length=20)
    assert len(feats.input_ids[0]) == 20
    types = feats.token_type_ids[0]
    assert types[0] == 0 and types[-1] == 1 and set(types) == {0, 1}


def test_tokenize_multi_label_and_empty(tokenizer):
    data = [LabelledText(1, "t", None, ("a", "c")), LabelledText(2, "u", None, ())]
    feats = tokenize(data, tokenizer, ["a", "b", "c"], TaskType.MULTI_LABEL, max_length=16)
    assert feats.targets == [[0, 2], []]
    assert len(tokenize([], tokenizer, ["a"], TaskType.MULTI_LABEL, 16)) == 0


def test_collate_pads_per_batch_and_omits_a_mask_that_would_be_all_ones(tokenizer):
    data = [LabelledText(i, text, None, (lab,)) for i, (text, lab) in
            enumerate([("one two", "a"), ("one two three four five", "b"), ("three four", "a")])]
    feats = tokenize(data, tokenizer, ["a", "b"], "single_label", max_length=32)
    mixed = collate(feats, [0, 1], pad_id=0, multi_label=False, num_labels=2)
    assert mixed["input_ids"].shape == (2, len(feats.input_ids[1]))
    assert mixed["attention_mask"][0].tolist() == [1] * len(feats.input_ids[0]) + [0] * (
        len(feats.input_ids[1]) - len(feats.input_ids[0]))
    assert mixed["labels"].tolist() == [0, 1] and mixed["labels"].dtype == torch.long
    same = collate(feats, [0, 2], pad_id=0, multi_label=False, num_labels=2)
    assert "attention_mask" not in same


def test_collate_multi_hot_targets(tokenizer):
    data = [LabelledText(1, "t", None, ("a", "c")), LabelledText(2, "u", None, ())]
    feats = tokenize(data, tokenizer, ["a", "b", "c"], "multi_label", max_length=8)
    batch = collate(feats, [0, 1], pad_id=0, multi_label=True, num_labels=3)
    assert batch["labels"].tolist() == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]


def test_snapshot_hash_ignores_order_but_sees_labels_and_text():
    a = [LabelledText(1, "x", None, ("p",)), LabelledText(2, "y", None, ("n",))]
    assert snapshot_hash(a) == snapshot_hash(a[::-1])
    assert snapshot_hash(a) != snapshot_hash([a[0], LabelledText(2, "y", None, ("p",))])
    assert snapshot_hash(a) != snapshot_hash([a[0], LabelledText(2, "y!", None, ("n",))])


def test_a_card_sized_budget_keeps_batches_as_varied_as_the_cpus():
    """On a GPU the budget fits batch_size of the longest texts, so the example cap alone cuts batches; sorted
    chunks of 50 capped batches then mix lengths as the CPU's do, where one global sort would not."""
    lengths, cap = _lengths(3000), 16
    cpu_budget = round(cap * sum(lengths) / len(lengths))
    card_budget = cap * max(lengths)

    def spread(batches):  # the length range each batch spans, summed: how varied batches are
        return sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)

    cpu = token_budget_batches(lengths, cpu_budget, seed=0, max_examples=cap)
    card = token_budget_batches(lengths, card_budget, seed=0, max_examples=cap, chunk_examples=50 * cap)
    one_sort = token_budget_batches(lengths, card_budget, seed=0, max_examples=cap)
    assert all(len(b) <= cap for b in card) and sorted(i for b in card for i in b) == list(range(len(lengths)))
    assert len(card) <= len(cpu)  # batches of long texts stay whole: fewer steps
    assert spread(card) > 0.8 * spread(cpu) and spread(one_sort) < 0.6 * spread(cpu)


def test_a_card_budget_is_a_quarter_of_the_card_over_the_activations_a_token_keeps():
    from ftdemo.training.setup import card_token_budget

    gib = 2 ** 30
    t4, h100 = card_token_budget(16 * gib, 768, 12, "bf16"), card_token_budget(80 * gib, 768, 12, "bf16")
    assert 32 * 256 < t4 < h100 == pytest.approx(5 * t4, rel=1e-3)  # BERT-base, batch 32 x 256 fits a 16 GB card
    assert card_token_budget(16 * gib, 768, 12, "fp32") == pytest.approx(t4 / 2, rel=1e-3)
    assert card_token_budget(16 * gib, 384, 6, "bf16") == pytest.approx(4 * t4, rel=1e-3)  # MiniLM-sized
