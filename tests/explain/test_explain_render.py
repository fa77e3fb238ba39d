"""Escaping and layout safety of the HTML heatmaps, with hostile payloads."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from ftdemo.explain.render import (
    display_text,
    render_explanation_html,
    render_matrix_html,
    render_words_html,
)
from ftdemo.explain.types import MatrixView, WordScore

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "abc\u202edef",
    "x" * 10_000,
    "",
    "it's & \"quoted\"",
]
ALLOWED_TAGS = {"div", "span", "style", "table", "tr", "th", "td"}
ALLOWED_ATTRS = {"style", "title", "class", "dir"}


class Audit(HTMLParser):
    """Collects every tag and attribute, and all text, of a fragment."""

    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def audit(fragment):
    a = Audit()
    a.feed(fragment)
    a.close()
    return a


def assert_safe(fragment):
    a = audit(fragment)
    assert set(a.tags) <= ALLOWED_TAGS, a.tags
    assert {name for name, _ in a.attrs} <= ALLOWED_ATTRS
    for name, value in a.attrs:
        assert "alert" not in (value or "") and "<" not in (value or ""), (name, value)
    assert "\u202e" not in fragment
    assert "<script" not in fragment.lower() and "<img" not in fragment.lower() and "<svg" not in fragment.lower()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_word_heatmap_escapes_every_payload(payload):
    words = [WordScore(payload, 0.7, 0), WordScore("ok", -0.3, 1), WordScore("[CLS]", 0.1, 0, special=True)]
    for signed in (True, False):
        html_out = render_words_html(words, signed=signed, caption=payload)
        assert_safe(html_out)
        assert len(html_out) < 6000  # a 10k-character word does not reach the page


def test_payload_text_is_shown_as_text():
    text = "".join(audit(render_words_html([WordScore("<img src=x onerror=alert(1)>", 1.0, 0)])).text)
    assert "<img src=x onerror=alert(1)>" in text  # escaped on the wire, readable on screen


def test_bidi_controls_removed_and_long_words_cut():
    assert display_text("abc\u202edef\u2066x") == "abcdefx"
    cut = display_text("y" * 10_000, max_chars=40)
    assert len(cut) == 40 and cut.endswith("\u2026")
    assert display_text("") == ""
    assert display_text("a\u200db") == "a\u200db"  # joiners keep emoji sequences intact


def test_empty_word_list_renders_a_placeholder():
    assert "no words to show" in render_words_html([])


def test_legend_present_and_colours_follow_sign():
    out = render_words_html([WordScore("up", 1.0, 0), WordScore("down", -1.0, 0)], signed=True)
    assert "linear-gradient" in out
    assert "rgb(178, 24, 43)" in out and "rgb(33, 102, 172)" in out  # red for, blue against


@pytest.mark.parametrize("payload", PAYLOADS)
def test_matrix_html_escapes_labels(payload):
    view = MatrixView([[0.5, 0.5], [0.2, 0.8]], [payload, "b"], [payload, "b"], payload, [0, 1], [0, 1])
    assert_safe(render_matrix_html(view))


def test_matrix_html_is_capped():
    n = 100
    view = MatrixView([[1.0 / n] * n for _ in range(n)], ["w"] * n, ["w"] * n, "big")
    out = render_matrix_html(view, max_size=10)
    assert out.count("<td") == 100 and "first 10 of 100" in out


def test_explanation_html_escapes_labels_and_notices(predictor):
    expl = predictor.explain("<script>alert(1)</script> hello", method="matrix", faithfulness_k=1)
    assert_safe(render_explanation_html(expl))


def test_words_keep_the_spaces_of_the_text_between_them():
    text = "Smooth checkout, no fees."
    spans = [(0, 6), (7, 15), (15, 16), (17, 19), (20, 24), (24, 25)]
    words = [WordScore("[CLS]", 0.0, 0, True)] + [WordScore(text[a:b], 0.1, 0, False, a, b) for a, b in spans] + \
            [WordScore("[SEP]", 0.0, 0, True)]

    class Visible(HTMLParser):  # the text a reader sees (and copies): everything but the <style> block
        def __init__(self) -> None:
            super().__init__()
            self.out: list[str] = []
            self.in_style = False

        def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
            self.in_style = tag == "style"

        def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
            self.in_style = False

        def handle_data(self, data):  # type: ignore[no-untyped-def]
            if not self.in_style:
                self.out.append(data)

    page = Visible()
    page.feed(render_words_html(words))
    assert f"[CLS] {text} [SEP]" in "".join(page.out)
