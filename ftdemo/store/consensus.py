"""Deriving an example's current label from its append-only annotation history (pure logic).

Each annotator's *current* state for an example is their latest row: 'label' (a label set),
'skip' or 'clear'. The example's label is the consensus of the annotators whose state is 'label'.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AnnotatorState:
    kind: str  # "label" | "skip" | "clear"
    labels: tuple[str, ...]
    annotation_id: int


@dataclass(frozen=True)
class Consensus:
    labels: tuple[str, ...]  # empty when nobody's current state is 'label'
    annotators: int  # annotators with a current label
    agreement: float  # share of those annotators whose label set equals the consensus (1.0 if ≤1)

    @property
    def is_labelled(self) -> bool:
        return self.annotators > 0

    @property
    def is_conflict(self) -> bool:
        return self.annotators > 1 and self.agreement < 1.0


UNLABELLED = Consensus((), 0, 1.0)


def consensus(states: Mapping[str, AnnotatorState], *, multi_label: bool, label_order: Sequence[str]) -> Consensus:
    """Majority vote over annotators' current label sets.

    Single-label: the most frequent label; a tie goes to the most recent annotation among the tied.
    Multi-label: every label chosen by at least half of the annotators (one annotator → their set).
    """
    voted = [s for s in states.values() if s.kind == "label"]
    if not voted:
        return UNLABELLED
    order = {name: i for i, name in enumerate(label_order)}
    if multi_label:
        counts = Counter(lab for s in voted for lab in set(s.labels))
        chosen = tuple(sorted((lab for lab, n in counts.items() if 2 * n >= len(voted)), key=lambda x: order.get(x, 1 << 30)))
    else:
        counts = Counter(s.labels[0] for s in voted if s.labels)
        top = max(counts.values())
        tied = {lab for lab, n in counts.items() if n == top}
        latest = max((s for s in voted if s.labels and s.labels[0] in tied), key=lambda s: s.annotation_id)
        chosen = (latest.labels[0],)
    agree = sum(1 for s in voted if tuple(sorted(set(s.labels), key=lambda x: order.get(x, 1 << 30))) == chosen)
    return Consensus(chosen, len(voted), agree / len(voted))
