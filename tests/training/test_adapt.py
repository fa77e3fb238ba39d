"""Adaptation (masked-LM training on a dataset's texts) on the tiny random BERT: the masking rule, the loop,
and the adapted checkpoint as the base of a fine-tune."""

from __future__ import annotations

import pytest
import torch

from ftdemo.errors import InvalidInputError, TrainingCancelled
from ftdemo.tasks import LabelledText
from ftdemo.training.adapt import adapt, make_collator, mask_batch, tokenize_texts
from ftdemo.training.adapt_config import AdaptConfig
from ftdemo.training.loop import train
from tests.tiny import bundled_tokenizer

from .conftest import toy_pair, toy_single


@pytest.fixture(scope="module")
def tiny_encoder(tiny_models):
    return tiny_models("mlm-encoder", model_class="BertModel")  # no masked-LM head, like the bundled MiniLM


def fast_adapt(base: object, **changes: object) -> AdaptConfig:
    return AdaptConfig(**{"base_model": str(base), "epochs": 1, "learning_rate": 3e-3, "batch_size": 16,
                          "max_length": 32, "num_threads": 1, "heldout_fraction": 0.2, **changes})


def masked_batches(texts: list[LabelledText], *, whole_word: bool = False, batches: int = 100) -> list[tuple]:
    """(original ids, special mask incl. padding, masked inputs, labels) of many masked batches."""
    tok = bundled_tokenizer()
    feats = tokenize_texts(texts, tok, 32, offsets=whole_word)
    collator = make_collator(tok, AdaptConfig(whole_word_mask=whole_word), seed=0)
    out = []
    for b in range(batches):
        batch = list(range(b % 4, len(feats), 4))[:16]
        width = max(len(feats.input_ids[i]) for i in batch)
        original = torch.tensor([feats.input_ids[i] + [0] * (width - len(feats.input_ids[i])) for i in batch])
        special = torch.tensor([feats.special_tokens_mask[i] + [1] * (width - len(feats.input_ids[i])) for i in batch])
        masked = mask_batch(feats, batch, collator, tok.pad_token_id)
        out.append((original, special.bool(), masked["input_ids"], masked["labels"]))
    return out


def test_masking_follows_bert_80_10_10_and_never_touches_special_tokens_or_padding():
    tok = bundled_tokenizer()
    texts = toy_pair(64)  # pairs: two [SEP]s and segment ids; lengths differ, so batches carry padding
    chosen = real = replaced_mask = replaced_other = kept = 0
    for original, special, inputs, labels in masked_batches(texts):
        picked = labels != -100
        assert not (picked & special).any()  # [CLS], [SEP] and padding are never chosen
        assert torch.equal(inputs[special], original[special])  # ... nor changed
        assert torch.equal(labels[picked], original[picked])  # the label is the original token
        assert torch.equal(inputs[~picked], original[~picked])  # only chosen tokens change
        chosen += int(picked.sum())
        real += int((~special).sum())
        replaced_mask += int((inputs[picked] == tok.mask_token_id).sum())
        same = inputs[picked] == original[picked]
        kept += int(same.sum())
        replaced_other += int((~same & (inputs[picked] != tok.mask_token_id)).sum())
    assert chosen > 2000
    assert abs(chosen / real - 0.15) < 0.02
    assert abs(replaced_mask / chosen - 0.8) < 0.04
    # kept: the 10% left alone, plus the random replacements that drew the same token (1 in 30,522)
    assert abs(kept / chosen - 0.1) < 0.03 and abs(replaced_other / chosen - 0.1) < 0.03


def test_whole_word_masking_takes_every_piece_of_a_word_and_no_special_token():
    tok = bundled_tokenizer()
    texts = [LabelledText(i, "unbelievably tokenization of embeddings " * 2, None, ()) for i in range(32)]
    words_whole = 0
    for original, special, inputs, labels in masked_batches(texts, whole_word=True, batches=10):
        picked = labels != -100
        assert not (picked & special).any() and torch.equal(inputs[special], original[special])
        assert (inputs[picked] == tok.mask_token_id).all()  # transformers' whole-word rule: all [MASK]
        for row in range(original.shape[0]):
            pieces = tok.convert_ids_to_tokens(original[row].tolist())
            for j, piece in enumerate(pieces):
                if piece.startswith("##"):  # a continuation piece is chosen exactly when its word start is
                    start = j
                    while pieces[start].startswith("##"):
                        start -= 1
                    assert bool(picked[row, j]) == bool(picked[row, start])
                    words_whole += int(picked[row, j])
    assert words_whole > 0


def test_adaptation_learns_the_texts_and_reports_before_and_after(tiny_encoder):
    events = []
    texts = [LabelledText(ex.id, ex.text, None, ()) for ex in toy_single(200)]
    result = adapt(texts, fast_adapt(tiny_encoder, epochs=8), callbacks=[events.append])
    assert result.head_initialised  # a plain encoder: the masked-LM head was made fresh
    before, after = result.metrics["before"], result.metrics["after"]
    assert before["masked_tokens"] == after["masked_tokens"] > 0  # the same masks both times
    assert after["loss"] < before["loss"] - 3.0 and after["accuracy"] >= before["accuracy"]  # MiniLM: README
    assert result.counts == {"texts": 160, "heldout": 40}
    assert result.timings["head_warmup_steps"] >= 1
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 8
    # tied decoder: the output vocabulary is the (adapted) input embedding matrix
    emb = result.model.get_input_embeddings().weight
    assert result.model.get_output_embeddings().weight.data_ptr() == emb.data_ptr()


def test_an_adapted_checkpoint_is_a_base_for_fine_tuning(tiny_encoder, tmp_path, fast_config):
    from ftdemo.tasks import TaskType
    from ftdemo.training.setup import load_classifier

    texts = [LabelledText(ex.id, ex.text, None, ()) for ex in toy_single(120)]
    result = adapt(texts, fast_adapt(tiny_encoder))
    result.model.save_pretrained(tmp_path)
    result.tokenizer.save_pretrained(tmp_path)
    # the classifier takes the adapted encoder's weights (every layer), its own head fresh
    classifier = load_classifier(str(tmp_path), ["neg", "pos"], TaskType.SINGLE_LABEL)
    adapted = dict(result.model.base_model.named_parameters())
    for name, param in classifier.base_model.named_parameters():
        if not name.startswith("pooler."):
            assert torch.equal(param, adapted[name]), name
    fine = train(toy_single(), ["neg", "pos"], "single_label", fast_config(base_model=str(tmp_path)))
    assert fine.metrics["validation"]["accuracy"] >= 0.9


def test_cancel_stops_adaptation_within_a_batch(tiny_encoder):
    texts = [LabelledText(ex.id, ex.text, None, ()) for ex in toy_single(100)]
    calls = []
    with pytest.raises(TrainingCancelled):
        adapt(texts, fast_adapt(tiny_encoder), should_stop=lambda: calls.append(1) or len(calls) > 2)
    assert len(calls) == 3


def test_too_few_texts_and_bad_options_are_refused(tiny_encoder):
    with pytest.raises(InvalidInputError, match="at least 2"):
        adapt([LabelledText(1, "only one", None, ())], fast_adapt(tiny_encoder))
    with pytest.raises(InvalidInputError, match="mlm_probability"):
        AdaptConfig(mlm_probability=1.5)
    with pytest.raises(InvalidInputError, match="unknown adaptation option"):
        AdaptConfig.from_dict({"epoch": 2})
