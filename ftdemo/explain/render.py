"""Word heatmaps and attention matrices as self-contained, escaped HTML.

Every piece of text that comes from a user (the words, label names, notices) goes
through ``display_text``: bidi controls and other invisible format characters are
removed so they cannot reorder what is shown, overlong words are cut with an
ellipsis, and the result is escaped with ``html.escape(quote=True)``. Attribute
values (colours, tooltips) are built only from numbers we format ourselves.
Styles are inline so the fragment renders the same in any container (gr.HTML,
a notebook, a file). Diverging colours for signed scores (IG), sequential for
attention; each heatmap carries its legend.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ftdemo.explain.methods import BY_NAME
from ftdemo.explain.types import Explanation, MatrixView, WordScore

# characters that change display direction or embedding: never let user text carry them
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
KEEP_FORMAT = frozenset("\u200c\u200d")  # zero-width (non-)joiners hold emoji and Indic words together
WHITE, BLUE_SEQ = (255, 255, 255), (8, 81, 156)
RED, BLUE = (178, 24, 43), (33, 102, 172)
SEGMENT_NAMES = ("Text", "Text pair")
BOX_STYLE = "font-family:sans-serif;line-height:1.9;max-width:100%;overflow-wrap:anywhere"
# layout shared by every word box lives in one <style>; colours stay inline so they survive
# containers that drop <style> tags
STYLE = (
    "<style>.ftx-w{display:inline-block;margin:2px 1px;padding:1px 4px;border-radius:3px;"
    "unicode-bidi:isolate;overflow-wrap:anywhere;word-break:break-all;max-width:100%}"
    ".ftx-s{border:1px dashed #999;font-size:85%;opacity:.8}</style>"
)


def display_text(text: str, max_chars: int = 40) -> str:
    """User text made safe to show: no bidi/control characters, at most max_chars, HTML-escaped."""
    cleaned = []
    for ch in str(text):
        if ch in BIDI_CONTROLS:
            continue
        cat = unicodedata.category(ch)
        if ch in "\t\n\r" or cat == "Zl" or cat == "Zp":
            cleaned.append(" ")
        elif cat == "Cc" or (cat == "Cf" and ch not in KEEP_FORMAT):
            continue
        else:
            cleaned.append(ch)
    out = "".join(cleaned)
    if len(out) > max_chars:
        out = out[: max(1, max_chars - 1)] + "\u2026"
    return html.escape(out, quote=True)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def score_color(score: float, scale: float, *, signed: bool) -> tuple[int, int, int]:
    """Background colour for a score: white→blue for attention, blue←white→red for signed scores."""
    if not scale or scale != scale:  # zero or NaN scale: nothing to colour
        return WHITE
    t = max(-1.0, min(1.0, float(score) / scale))
    if not signed:
        return _mix(WHITE, BLUE_SEQ, max(0.0, t))
    return _mix(WHITE, RED, t) if t >= 0 else _mix(WHITE, BLUE, -t)


def _text_color(rgb: tuple[int, int, int]) -> str:
    luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255
    return "#fff" if luminance < 0.55 else "#111"


def _num(x: float) -> str:
    return html.escape(f"{float(x):.3g}", quote=True)


def _field(word: WordScore | Mapping[str, Any], name: str, default: Any = None) -> Any:
    return word.get(name, default) if isinstance(word, Mapping) else getattr(word, name, default)


def legend_html(scale: float, *, signed: bool, note: str | None = None) -> str:
    """A colour bar with its end values and what the colours mean (note is our text, never user text)."""
    if signed:
        stops, low, high = f"rgb{BLUE},rgb{WHITE},rgb{RED}", -scale, scale
        note = note or "blue: against the label · red: for it"
    else:
        stops, low, high = f"rgb{WHITE},rgb{BLUE_SEQ}", 0.0, scale
        note = note or "darker: more attention"
    note = html.escape(note, quote=True)
    return (
        '<div style="display:flex;align-items:center;gap:6px;font-size:12px;margin-top:6px">'
        f"<span>{_num(low)}</span>"
        f'<span style="display:inline-block;width:120px;height:10px;border:1px solid #ccc;'
        f'background:linear-gradient(to right,{stops})"></span>'
        f"<span>{_num(high)}</span><span style=\"color:#666\">{note}</span></div>"
    )


def _word_span(word: WordScore | Mapping[str, Any], scale: float, signed: bool, max_chars: int) -> str:
    score = float(_field(word, "score", 0.0) or 0.0)
    rgb = score_color(score, scale, signed=signed)
    cls = "ftx-w ftx-s" if _field(word, "special", False) else "ftx-w"
    return (
        f'<span class="{cls}" style="background:rgb{rgb};color:{_text_color(rgb)}" title="{_num(score)}">'
        f'{display_text(_field(word, "text", ""), max_chars)}</span>'
    )


def _spaced(before: WordScore | Mapping[str, Any], after: WordScore | Mapping[str, Any]) -> bool:
    """Whether the input had a space between two neighbouring words: their character spans leave a gap
    ("good ," no, "good fun" yes); a special token ([CLS], [SEP]) stands apart."""
    if _field(before, "special", False) or _field(after, "special", False):
        return True
    return int(_field(after, "start", 0) or 0) > int(_field(before, "end", 0) or 0)


def render_words_html(
    words: Sequence[WordScore | Mapping[str, Any]], *, signed: bool = False, max_chars: int = 40,
    caption: str | None = None,
) -> str:
    """A word heatmap: one coloured box per word, segments of a pair in separate blocks, and a legend."""
    scores = [abs(float(_field(w, "score", 0.0) or 0.0)) for w in words]
    scale = max(scores, default=0.0)
    parts = [STYLE, f'<div dir="ltr" style="{BOX_STYLE}">']
    if caption:
        parts.append(f'<div style="font-weight:600;margin-bottom:4px">{display_text(caption, 200)}</div>')
    segments = sorted({int(_field(w, "segment", 0) or 0) for w in words})
    if not words:
        parts.append('<div style="color:#666">(no words to show)</div>')
    for seg in segments:
        if len(segments) > 1:
            name = SEGMENT_NAMES[seg] if seg < len(SEGMENT_NAMES) else f"Segment {seg}"
            parts.append(f'<div style="font-size:12px;color:#666;margin-top:4px">{name}</div>')
        parts.append("<div>")
        previous = None
        for w in (w for w in words if int(_field(w, "segment", 0) or 0) == seg):
            if previous is not None and _spaced(previous, w):
                parts.append(" ")  # the text's own space: copied text reads as typed, and lines wrap there
            parts.append(_word_span(w, scale, signed, max_chars))
            previous = w
        parts.append("</div>")
    parts.append(legend_html(scale, signed=signed))
    parts.append("</div>")
    return "".join(parts)


def render_matrix_html(view: MatrixView, *, max_size: int = 64, max_chars: int = 14, note: str | None = None) -> str:
    """A matrix heatmap as an HTML table (first max_size rows/columns); pair segments get a divider."""
    rows, cols = view.rows[:max_size], view.cols[:max_size]
    values = [row[:max_size] for row in view.values[:max_size]]
    scale = max((abs(v) for row in values for v in row), default=0.0)
    rseg = (view.row_segments or [0] * len(rows))[:max_size]
    cseg = (view.col_segments or [0] * len(cols))[:max_size]

    def edge(segs: list[int], i: int) -> bool:  # first word of the second segment: draw the divider
        return i > 0 and segs[i] != segs[i - 1]

    cell = "padding:0;width:14px;height:14px;min-width:14px;"
    out = ['<div style="overflow:auto;max-width:100%;font-family:sans-serif;font-size:11px">']
    out.append(f'<div style="font-weight:600;margin-bottom:4px">{display_text(view.title, 200)}</div>')
    if len(view.rows) > max_size or len(view.cols) > max_size:
        out.append(f'<div style="color:#a60">showing the first {max_size} of {len(view.rows)} rows/columns</div>')
    out.append('<table dir="ltr" style="border-collapse:collapse"><tr><th></th>')
    for j, label in enumerate(cols):
        left = "border-left:2px solid #333;" if edge(cseg, j) else ""
        out.append(
            f'<th style="{left}writing-mode:vertical-rl;font-weight:normal;unicode-bidi:isolate">'
            f"{display_text(label, max_chars)}</th>"
        )
    out.append("</tr>")
    for i, label in enumerate(rows):
        top = "border-top:2px solid #333;" if edge(rseg, i) else ""
        out.append(
            f'<tr><th style="{top}text-align:right;font-weight:normal;unicode-bidi:isolate">'
            f"{display_text(label, max_chars)}</th>"
        )
        for j, v in enumerate(values[i]):
            left = "border-left:2px solid #333;" if edge(cseg, j) else ""
            rgb = score_color(v, scale, signed=False)
            out.append(f'<td style="{cell}{top}{left}background:rgb{rgb}" title="{_num(v)}"></td>')
        out.append("</tr>")
    out.append("</table>")
    out.append(legend_html(scale, signed=False, note=note))
    out.append("</div>")
    return "".join(out)


def caption(expl: Explanation, num_layers: int | None = None) -> str:
    """Plain text (render_words_html escapes it): method, layer and head with people's numbering
    (layer 1..L, head 1..H), and the label explained."""
    method = BY_NAME.get(expl.method)
    parts = [method.title if method else expl.method]
    of = f" of {num_layers}" if num_layers else ""
    if expl.layer is not None and expl.method == "rollout":
        parts.append(f"layers 1–{expl.layer + 1}{of}")
    elif expl.layer is not None:
        parts.append(f"layer {expl.layer + 1}{of}")
    if method is not None and method.uses("head"):
        parts.append("mean of heads" if expl.head is None else f"head {expl.head + 1}")
    if expl.method == "overview":
        parts.append("words: mean [CLS] attention over all layers and heads")
    if expl.signed:
        parts.append(f"evidence for “{expl.target_label}”")
    return " · ".join(parts)


def _one_based(expl: Explanation) -> MatrixView | None:
    view = expl.matrix
    if view is None:
        return None
    if expl.method == "overview":
        return replace(view, rows=[f"layer {i + 1}" for i in range(len(view.rows))],
                       cols=[f"head {j + 1}" for j in range(len(view.cols))])
    head = "mean of heads" if expl.head is None else f"head {expl.head + 1}"
    layer = "" if expl.layer is None else f"layer {expl.layer + 1}, "
    return replace(view, title=f"Attention matrix, {layer}{head} (row: from, column: to)")


def faithfulness_html(expl: Explanation) -> str:
    """The deletion test's result in a sentence (empty when it was not run)."""
    f = expl.faithfulness
    if f is None:
        return ""
    if not f.k:
        return '<div class="ftd-expl-meta">Deletion test: the text is too short to delete words from.</div>'
    words = ", ".join(f"“{display_text(w, 30)}”" for w in f.deleted)
    verdict = {
        "matters": f"the highlighted words matter to the model more than any of {f.random_draws} random choices",
        "too_few": f"too few words to tell: {f.k} words can be chosen in only {f.choices} ways here, so even a "
                   "large gap could be chance",
    }.get(f.verdict, "no clearer effect than deleting random words: read this view with care")
    label = display_text(expl.target_label, 60)
    return (f'<div class="ftd-expl-meta ftd-faith"><span style="font-weight:600">Deletion test</span>: removing the top {f.k} words ({words}) '
            f"moves p({label}) from {f.base_prob:.2f} to {f.topk_prob:.2f} (drop {f.topk_drop:+.2f}); "
            f"{f.k} random words: drop {f.random_drop:+.2f} on average. {verdict}.</div>")


def render_explanation_html(expl: Explanation, num_layers: int | None = None, *, max_chars: int = 40) -> str:
    """The whole explanation: caption, word heatmap with legend, notices, IG completeness, deletion test
    and matrix, all escaped. `num_layers` lets the caption say "layer 3 of 6"."""
    parts = ['<div class="ftd-expl">',
             render_words_html(expl.words, signed=expl.signed, max_chars=max_chars, caption=caption(expl, num_layers))]
    for notice in expl.notices:
        if notice == expl.prediction.notice:  # the prediction line above the heatmap shows it already
            continue
        parts.append(f'<div class="ftd-expl-note">{display_text(notice, 300)}</div>')
    if expl.completeness_error is not None:
        parts.append(f'<div class="ftd-expl-meta">Completeness error {expl.completeness_error:.1%} '
                     f"({int(expl.ig_steps or 0)} steps, {display_text(expl.baseline or '', 10)} baseline): "
                     "how far the word scores are from summing to the change in the label's score.</div>")
    parts.append(faithfulness_html(expl))
    matrix = _one_based(expl)
    if matrix is not None:
        note = "darker: attention spread wider" if expl.method == "overview" else None
        parts.append(render_matrix_html(matrix, note=note))
    parts.append("</div>")
    return "".join(parts)
