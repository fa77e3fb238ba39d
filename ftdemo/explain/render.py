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
from typing import Any

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
        parts.extend(
            _word_span(w, scale, signed, max_chars) for w in words if int(_field(w, "segment", 0) or 0) == seg
        )
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


def matrix_plot_data(view: MatrixView, *, max_chars: int = 14) -> dict[str, Any]:
    """Heatmap data for a plotting library: z values and cleaned, escaped tick labels.

    Labels are escaped too, because some plotting libraries (Plotly) read a few
    HTML tags in tick text.
    """
    return {
        "z": view.values,
        "x": [display_text(c, max_chars) for c in view.cols],
        "y": [display_text(r, max_chars) for r in view.rows],
        "title": display_text(view.title, 200),
        "x_segments": view.col_segments,
        "y_segments": view.row_segments,
    }


def render_explanation_html(expl: Explanation, *, max_chars: int = 40) -> str:
    """The whole explanation: header, notices, the word heatmap, and the matrix when there is one."""
    where = "" if expl.layer is None else f", layer {expl.layer}"
    who = ""
    if expl.method in ("cls", "matrix"):
        who = ", all heads" if expl.head is None else f", head {expl.head}"
    if expl.signed:
        about = f"explaining label: {expl.target_label}"
    else:  # attention does not depend on the label asked about
        top = expl.prediction.label
        about = f"predicted: {top} (p = {expl.prediction.probabilities.get(top, 0.0):.2f})"
    caption = f"{expl.method}{where}{who} · {about}"  # escaped by render_words_html
    words = render_words_html(expl.words, signed=expl.signed, max_chars=max_chars, caption=caption)
    parts = [f'<div style="font-family:sans-serif">{words}']
    for notice in expl.notices:
        parts.append(f'<div style="color:#a60;font-size:12px">{display_text(notice, 300)}</div>')
    if expl.completeness_error is not None:
        parts.append(
            f'<div style="font-size:12px;color:#666">completeness error {_num(expl.completeness_error * 100)}% '
            f"({int(expl.ig_steps or 0)} steps, {display_text(expl.baseline or '', 10)} baseline)</div>"
        )
    if expl.faithfulness is not None:
        f = expl.faithfulness
        parts.append(
            f'<div style="font-size:12px;color:#666">deleting the top {int(f.k)} words drops p by {_num(f.topk_drop)}'
            f"; {int(f.k)} random words: {_num(f.random_drop)}</div>"
        )
    if expl.matrix is not None:
        note = "darker: attention spread wider" if expl.method == "overview" else None
        parts.append(render_matrix_html(expl.matrix, note=note))
    parts.append("</div>")
    return "".join(parts)
