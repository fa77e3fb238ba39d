"""Result types of the explain path: plain dataclasses with ``to_dict()`` for JSON.

Scores are rounded to float16 precision (about 3 significant digits) before they
leave the server: that is all a colour scale can show, and it keeps the payload
for the browser small.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ftdemo.explain.faithfulness import Faithfulness
    from ftdemo.models.inference import Prediction

FP16_MAX = 65504.0


def fp16_round(values: Iterable[float] | np.ndarray) -> list[float]:
    """Round to float16 precision and return the shortest decimals that say so (0.1234, not 0.12340087890625)."""
    arr = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0), -FP16_MAX, FP16_MAX)
    return [float(str(v)) for v in arr.astype(np.float16).ravel()]


@dataclass(frozen=True)
class WordScore:
    """One displayed word. text is an exact substring of the input (or a special token like [CLS])."""

    text: str
    score: float
    segment: int  # 0 = text, 1 = text_pair
    special: bool = False
    start: int = 0  # character span in its segment's text
    end: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text, "score": self.score, "segment": self.segment,
            "special": self.special, "start": self.start, "end": self.end,
        }


@dataclass(frozen=True)
class MatrixView:
    """A small labelled matrix for a heatmap: word×word attention, or layers×heads overview."""

    values: list[list[float]]
    rows: list[str]
    cols: list[str]
    title: str
    row_segments: list[int] | None = None  # pair inputs: which segment each row/column word is in
    col_segments: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": self.values, "rows": self.rows, "cols": self.cols, "title": self.title,
            "row_segments": self.row_segments, "col_segments": self.col_segments,
        }


@dataclass(frozen=True)
class Explanation:
    """What one explain request returns: word scores for one method/layer/head/label, nothing more."""

    method: str
    target_label: str
    words: list[WordScore]
    prediction: "Prediction"
    signed: bool  # True for IG (scores may be negative: diverging colours), False for attention
    layer: int | None = None  # 0-based layer the view is of (rollout: up to and including it)
    head: int | None = None  # None = averaged over heads
    completeness_error: float | None = None  # IG only
    ig_steps: int | None = None
    baseline: str | None = None
    matrix: MatrixView | None = None  # "matrix" and "overview" views
    faithfulness: "Faithfulness | None" = None
    notices: list[str] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.prediction.truncated

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "target_label": self.target_label,
            "signed": self.signed,
            "layer": self.layer,
            "head": self.head,
            "words": [w.to_dict() for w in self.words],
            "truncated": self.truncated,
            "notices": list(self.notices),
            "prediction": self.prediction.to_dict(),
        }
        if self.completeness_error is not None:
            out["completeness_error"] = self.completeness_error
            out["ig_steps"] = self.ig_steps
            out["baseline"] = self.baseline
        if self.matrix is not None:
            out["matrix"] = self.matrix.to_dict()
        if self.faithfulness is not None:
            out["faithfulness"] = self.faithfulness.to_dict()
        return out
