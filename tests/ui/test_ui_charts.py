"""The Train tab's curves: whole-number ticks for steps and epochs, a legend that always lists every
series (with or without data), and nothing a browser could run."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ftdemo.ui import charts, plots


def texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_ticks_are_round_and_whole_when_asked() -> None:
    assert charts.nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert charts.nice_ticks(1, 3, count=8, whole=True) == [1.0, 2.0, 3.0]
    assert charts.nice_ticks(1, 1, whole=True) == [1.0, 2.0]
    assert charts.nice_ticks(0, 1437, count=8) == [0, 200, 400, 600, 800, 1000, 1200, 1400]
    assert charts.nice_ticks(float("nan"), 1) == []


EPOCH = [{"kind": "epoch", "epoch": 1, "step": 7, "metrics": {"macro_f1": 0.5, "accuracy": 0.6, "loss": 0.7}}]


def test_one_epoch_is_labelled_1_not_1_000000() -> None:
    svg = plots.metric_chart(EPOCH)
    labels = texts(svg)
    assert "1" in labels and not any(re.fullmatch(r"\d+\.\d{3,}", t) for t in labels)
    assert svg.count("<circle") == 2  # one dot per metric


def test_the_legend_lists_every_series_before_and_after_data_arrives() -> None:
    empty = plots.loss_chart([])
    steps = [{"kind": "step", "step": i, "loss": 1 / i} for i in range(1, 50)]
    full = plots.loss_chart(steps + [{**EPOCH[0], "step": 40}])
    for svg in (empty, full):
        assert {"training", "validation"} <= set(texts(svg))
    assert "the loss appears once training starts" in texts(empty) and "<polyline" not in empty
    assert full.count("<polyline") == 1  # training: a line; validation: one point, a dot


def test_many_steps_are_thinned_and_the_chart_is_inert() -> None:
    steps = [{"kind": "step", "step": i, "loss": 1 / i} for i in range(1, 5000)]
    points = plots.loss_series(steps)["training"]
    assert len(points) <= plots.MAX_POINTS + 1 and points[-1] == (4999.0, 1 / 4999)
    svg = charts.line_chart([charts.Series("<script>x</script>", "#000", [(0, 0), (1, 1)])], title="<b>t</b>",
                            x_title="x")
    tags = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN201
            tags.append(tag)

    Tags().feed(svg)
    assert set(tags) <= {"svg", "text", "line", "rect", "polyline", "circle"} and "<script" not in svg


def test_a_label_checks_fine_tunes_are_marked_and_not_joined_by_a_line() -> None:
    events = [{"kind": "epoch", "epoch": e, "epochs": 2, "step": 4 * e, "total_steps": 8,
               "metrics": {"fold": fold, "folds": 3, "macro_f1": 0.5 + 0.1 * e, "accuracy": 0.6}}
              for fold in (1, 2, 3) for e in (1, 2)]
    assert plots.fold_marks(events, "epoch") == [(2.5, "fine-tune 2"), (4.5, "fine-tune 3")]
    assert plots.fold_marks(events, "step") == [(8.5, "fine-tune 2"), (16.5, "fine-tune 3")]
    svg = plots.metric_chart(events)
    assert svg.count('stroke-dasharray="4 3"') == 2 and ">fine-tune 3</text>" in svg
    assert svg.count("<polyline") == 2 * 3  # two series, one line per fine-tune
    plain = [{**e, "metrics": {"macro_f1": 0.7, "accuracy": 0.6}} for e in events[:2]]
    assert plots.fold_marks(plain, "epoch") == [] and plots.metric_chart(plain).count("<polyline") == 2
