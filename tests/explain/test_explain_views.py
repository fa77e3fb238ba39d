"""The explain path end to end on a tiny model: each view returns only what it is asked for."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ftdemo.errors import InvalidInputError
from ftdemo.explain.model_run import encode_one
from ftdemo.serving import Predictor

TEXT = "I loved this film, unbelievably good!"


def test_model_attention_rows_sum_to_one(predictor):
    loaded = predictor._loaded
    x = encode_one(loaded, TEXT, None)
    with torch.inference_mode():
        out = loaded.explain_model(**x.enc, output_attentions=True)
    assert len(out.attentions) == 2
    for layer in out.attentions:
        np.testing.assert_allclose(layer.sum(dim=-1).numpy(), 1.0, rtol=1e-5)


def test_cls_view_scores_are_the_cls_row_pooled(predictor):
    expl = predictor.explain(TEXT, method="cls", layer=0, head=1, show_special=True)
    assert (expl.layer, expl.head, expl.signed) == (0, 1, False)
    assert sum(w.score for w in expl.words) == pytest.approx(1.0, abs=5e-3)  # fp16-rounded row of a softmax
    assert [w.text for w in expl.words][1:4] == ["I", "loved", "this"]


def test_rollout_view_sums_to_one_over_all_words(predictor):
    expl = predictor.explain(TEXT, method="rollout", show_special=True)
    assert sum(w.score for w in expl.words) == pytest.approx(1.0, abs=5e-3)
    assert expl.layer == 1


def test_matrix_view_is_word_by_word(predictor):
    expl = predictor.explain(TEXT, method="matrix", layer=-1, show_special=True)
    n = len(expl.words)
    m = np.array(expl.matrix.values)
    assert m.shape == (n, n) and expl.matrix.rows == [w.text for w in expl.words]
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=5e-3)
    hidden = predictor.explain(TEXT, method="matrix")
    assert len(hidden.matrix.rows) == n - 2  # [CLS]/[SEP] left out unless asked for


def test_overview_is_layers_by_heads(predictor):
    expl = predictor.explain(TEXT, method="overview")
    values = np.array(expl.matrix.values)
    assert values.shape == (2, 2) and ((0 <= values) & (values <= 1)).all()


def test_payload_is_rounded_and_json_ready(predictor):
    expl = predictor.explain(TEXT, method="cls")
    for w in expl.words:
        assert float(np.float16(w.score)) == pytest.approx(w.score, rel=1e-3)
        assert len(repr(w.score)) <= 12  # short decimals, not float64 noise
    data = json.loads(json.dumps(expl.to_dict()))
    assert data["method"] == "cls" and {"text", "score", "segment"} <= set(data["words"][0])
    assert "matrix" not in data and "completeness_error" not in data


def test_pair_explanation_labels_segments(tiny_pair_dir):
    with Predictor(tiny_pair_dir, device="cpu") as p:
        expl = p.explain("a man eats bread", "someone is eating", method="matrix", show_special=True)
        assert {w.segment for w in expl.words} == {0, 1}
        assert expl.matrix.row_segments == [w.segment for w in expl.words]
        ig = p.explain("a man eats bread", "someone is eating", method="ig")
        assert ig.completeness_error < 0.05 and {w.segment for w in ig.words} == {0, 1}
        with pytest.raises(InvalidInputError, match="pairs"):
            p.explain("only one text")


def test_multilabel_explains_the_chosen_label(tiny_multilabel_dir):
    with Predictor(tiny_multilabel_dir, device="cpu") as p:
        for label in p.labels:
            expl = p.explain(TEXT, method="ig", target_label=label)
            assert expl.target_label == label and expl.completeness_error < 0.05


def test_faithfulness_for_each_method(predictor):
    result = predictor.faithfulness(TEXT, k=2, seed=3, ig_steps=16)
    assert set(result) == {"cls", "rollout", "ig"}
    for f in result.values():
        assert f.k == 2 and len(f.deleted) == 2
        assert f.topk_drop == pytest.approx(f.base_prob - f.topk_prob)
    again = predictor.faithfulness(TEXT, k=2, seed=3, methods=("cls",))
    assert again["cls"].random_prob == pytest.approx(result["cls"].random_prob)


def test_bad_view_arguments_are_named_errors(predictor):
    with pytest.raises(InvalidInputError, match="layers"):
        predictor.explain(TEXT, layer=5)
    with pytest.raises(InvalidInputError, match="heads"):
        predictor.explain(TEXT, head=2)
    with pytest.raises(InvalidInputError, match="method"):
        predictor.explain(TEXT, method="lime")
    with pytest.raises(InvalidInputError, match="empty"):
        predictor.explain("   ")


def test_truncated_explanation_says_so(predictor):
    expl = predictor.explain("word " * 500, method="cls")
    assert expl.truncated and expl.notices and len(expl.words) == predictor.max_length - 2


def test_matrix_payload_is_capped(predictor, monkeypatch):
    import ftdemo.explain.explainer as engine

    monkeypatch.setattr(engine, "MATRIX_MAX_WORDS", 4)
    expl = predictor.explain(TEXT, method="matrix")
    assert np.array(expl.matrix.values).shape == (4, 4) and any("first 4" in n for n in expl.notices)
