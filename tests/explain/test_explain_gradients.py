"""Integrated Gradients: completeness within 5%, for both baselines and every label."""

from __future__ import annotations

import pytest

from ftdemo.errors import InvalidInputError

TEXT = "the acting was wonderful but the plot was thin"


@pytest.mark.parametrize("baseline", ["pad", "zero"])
@pytest.mark.parametrize("label", ["neg", "neu", "pos"])
def test_completeness_within_five_percent(predictor, baseline, label):
    expl = predictor.explain(TEXT, method="ig", target_label=label, baseline=baseline, ig_steps=32)
    assert expl.target_label == label and expl.signed
    assert expl.completeness_error < 0.05


def test_word_scores_add_up_to_the_logit_difference(predictor):
    import torch

    from ftdemo.explain.gradients import integrated_gradients
    from ftdemo.explain.model_run import encode_one

    loaded = predictor._loaded
    x = encode_one(loaded, TEXT, None)
    special = torch.tensor([x.info.special])
    res = integrated_gradients(
        loaded.model, x.enc["input_ids"], x.enc["attention_mask"], x.enc["token_type_ids"], special,
        target=2, pad_token_id=0, steps=64, baseline="pad",
    )
    assert abs(res.logit_delta) > 1e-3  # a test of something, not of 0 ≈ 0
    with torch.no_grad():
        pad = torch.where(special, x.enc["input_ids"], torch.zeros_like(x.enc["input_ids"]))
        fx = loaded.model(**x.enc).logits[0, 2]
        fb = loaded.model(input_ids=pad, attention_mask=x.enc["attention_mask"]).logits[0, 2]
    assert res.token_scores.sum() == pytest.approx(float(fx - fb), rel=0.05)
    assert res.token_scores[[i for i, s in enumerate(x.info.special) if s]].tolist() == [0.0, 0.0]


def test_special_tokens_get_no_attribution(predictor):
    expl = predictor.explain(TEXT, method="ig", show_special=True)
    assert [w.score for w in expl.words if w.special] == [0.0, 0.0]


def test_bad_ig_arguments_are_named_errors(predictor):
    with pytest.raises(InvalidInputError, match="baseline"):
        predictor.explain(TEXT, method="ig", baseline="noise")
    with pytest.raises(InvalidInputError, match="ig_steps"):
        predictor.explain(TEXT, method="ig", ig_steps=0)
    with pytest.raises(InvalidInputError, match="not one of this model's labels"):
        predictor.explain(TEXT, method="ig", target_label="nope")
