"""Rendering of the model's help (pure: plain values in, escaped HTML out)."""

from __future__ import annotations

from ftdemo.ui.assist_view import assist_status, model_name, similar_choices, suggestion_line

XSS = "<img src=x onerror=alert(1)>"


def test_suggestion_line_names_labels_probabilities_and_model() -> None:
    line = suggestion_line({"label": "pos", "labels": ["pos"], "probabilities": {"pos": 0.87, "neg": 0.13},
                            "model": "instant"}, multi=False)
    assert "<b>pos</b> 87%" in line and "by the instant model" in line and "<kbd>Enter</kbd> accepts" in line
    multi = suggestion_line({"label": "a", "labels": [], "probabilities": {"a": 0.3, "b": 0.1}, "model": "v0002"},
                            multi=True)
    assert "none of the labels" in multi and "by model v0002" in multi and "preselected" in multi
    assert suggestion_line(None, multi=False) == ""


def test_user_text_is_escaped_everywhere() -> None:
    line = suggestion_line({"label": XSS, "labels": [XSS], "probabilities": {XSS: 1.0}, "model": XSS}, multi=False)
    assert XSS not in line and "&lt;img" in line
    status = assist_status({"embeddings": {"done": 1, "total": 2, "error": XSS}, "instant": None,
                            "finetuned": {"version": XSS, "macro_f1": 0.5}, "serving": XSS}, [])
    assert XSS not in status


def test_assist_status_compares_models_and_counts_acceptance() -> None:
    status = assist_status({"embeddings": {"done": 500, "total": 2000}, "serving": "v0003",
                            "instant": {"macro_f1": 0.812, "n": 120}, "finetuned": {"version": "v0003",
                                                                                  "macro_f1": 0.86}},
                           [{"model": "instant", "shown": 40, "rate": 0.75}, {"model": "v0003", "shown": 0,
                                                                               "rate": None}])
    assert "embedding examples: 500 of 2,000" in status
    assert "suggestions by model v0003" in status
    assert "instant model macro-F1 0.81 (cross-validated on 120 labels) vs fine-tuned v0003 macro-F1 0.86" in status
    assert "accepted: the instant model 75% of 40" in status and "of 0" not in status
    assert "after a few labels" in assist_status({"embeddings": {"done": 3, "total": 3}}, [])
    assert assist_status(None) == ""


def test_similar_choices_show_id_score_label_and_a_snippet() -> None:
    rows = [{"id": 7, "text": "long " * 60, "labels": ["pos"], "score": 0.912},
            {"id": 9, "text": "premise", "text_pair": "hypothesis", "labels": [], "score": 0.5,
             "suggestion": {"labels": ["neg"]}},
            {"id": 11, "text": "x", "labels": [], "score": 0.1}]
    shown = similar_choices(rows)
    assert [value for _, value in shown] == [7, 9, 11]
    assert shown[0][0].startswith("#7 · 0.91 · pos · long") and shown[0][0].endswith("…")
    assert shown[1][0] == "#9 · 0.50 · suggested neg · premise / hypothesis"
    assert shown[2][0] == "#11 · 0.10 · unlabelled · x"
    assert model_name("instant") == "the instant model" and model_name("v1") == "model v1"


def test_an_instant_model_on_a_fine_tunes_embeddings_says_what_it_was_scored_on() -> None:
    held = {"embeddings": {"done": 9, "total": 9}, "serving": "v0002", "finetuned": {"version": "v0002", "macro_f1": 0.7},
            "instant": {"macro_f1": 0.655, "n": 31, "method": "held-out"}}
    assert "instant model macro-F1 0.66 (on 31 labels its encoder did not learn)" in assist_status(held)
    unscored = {**held, "instant": {"macro_f1": None, "n": 2, "method": "held-out"}}
    assert "instant model (too few labels its encoder did not learn to score it)" in assist_status(unscored)
