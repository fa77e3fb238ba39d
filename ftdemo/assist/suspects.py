"""Label-error suspects: labels that are probably wrong, found by confident learning (pure).

Every labelled example gets probabilities from models that never saw its label (out-of-fold): the
instant model on the embeddings (`instant.out_of_fold_probabilities`) and the word model on the texts
(`words.out_of_fold_probabilities`), and, after a fine-tune check, the fine-tunes that held it out
(`training.crossfit`); their mean (`combine`) is what confident learning judges by. cleanlab's
`find_label_issues` (Northcutt et al., "Confident Learning", 2021) then flags the examples whose given
label disagrees with what the rest of the labels imply, per-class thresholds included, and they are
ranked by the quality score of their given label (lowest first: the surest suspects first). One process
(n_jobs=1): cleanlab would otherwise fork a pool from the app, a process with threads (the server's, the
embeddings' worker), for work that takes milliseconds here.

The out-of-fold model is regularised harder than the suggestions' one (SUSPECTS_C): on 2,000 rows with
5% of labels flipped, C=1 put 6-8 points more flipped rows in the top k than C=10 on SST-2 and AG News
(`bench label-noise`), since a model that fits its training labels closely also fits their noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ftdemo.tasks import TaskType

SUSPECTS_C = 1.0
THRESHOLD = 0.5  # multi-label: a label is suggested at or above this out-of-fold probability


@dataclass(frozen=True)
class Suspect:
    """Row `row` of the input is probably mislabelled: `given` labels, the out-of-fold model's `suggested`
    ones with their `probability`, and `confidence` = 1 − the given label's quality score (higher: surer)."""

    row: int
    given: tuple[str, ...]
    suggested: tuple[str, ...]
    probability: float
    confidence: float


def combine(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The mean of several out-of-fold models' probabilities (each (n, L) in label order), row by row over
    the models that scored the row: a row that is NaN in one part (a fine-tune check made before the
    example was labelled) takes the mean of the others.

    Why a plain mean: models that err in different places cancel each other's confident mistakes. On
    2,000 SST-2 rows with 5% flipped (seeds 0-2), the embeddings alone put 0.453 flips in the top k, with
    the words 0.487, with words and a 5-fold fine-tune check 0.503; the embeddings and the fine-tunes
    alone, equally or either weighted double, 0.48-0.49 (docs/benchmarks.md, "Label noise")."""
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in parts])
    if np.isnan(stack).all(axis=0).any():
        raise ValueError("combine(): a row that no model scored")
    return np.nanmean(stack, axis=0)


def find_suspects(Y: np.ndarray, probs: np.ndarray, *, task: TaskType | str, labels: Sequence[str],
                  limit: int | None = None) -> list[Suspect]:
    """Suspected label errors, surest first. `Y`: (n,) label indices, or (n, L) 0/1 for multi-label;
    `probs`: out-of-fold probabilities (n, L) in label order."""
    task = TaskType.parse(task)
    Y, probs = np.asarray(Y), np.asarray(probs, dtype=np.float64)
    if len(Y) == 0:
        return []
    if task.is_multi_label:
        from cleanlab.multilabel_classification.filter import find_label_issues
        from cleanlab.multilabel_classification.rank import get_label_quality_scores

        given_lists = [list(np.flatnonzero(row)) for row in Y]
        flagged = find_label_issues(given_lists, probs, n_jobs=1)
        quality = get_label_quality_scores(given_lists, probs)
    else:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores

        y = Y.astype(int)
        flagged = find_label_issues(y, _smoothed(probs), n_jobs=1)
        quality = get_label_quality_scores(y, _smoothed(probs))
    rows = np.flatnonzero(flagged)
    rows = rows[np.argsort(quality[rows], kind="stable")][:limit]
    return [_suspect(int(r), Y[r], probs[r], float(quality[r]), task, labels) for r in rows]


def _smoothed(probs: np.ndarray) -> np.ndarray:
    # labels an out-of-fold model never saw get probability 0; cleanlab needs rows that sum to 1 and
    # every class somewhere, so mix in a trace of the uniform distribution
    eps = 1e-6
    out = probs + eps
    return out / out.sum(axis=1, keepdims=True)


def _suspect(row: int, y: np.ndarray, p: np.ndarray, quality: float, task: TaskType,
             labels: Sequence[str]) -> Suspect:
    if task.is_multi_label:
        given = tuple(labels[j] for j in np.flatnonzero(y))
        chosen = np.flatnonzero(p >= THRESHOLD)
        suggested = tuple(labels[j] for j in chosen)
        # how sure the model is of its whole suggestion: the least sure of its yes/no decisions
        probability = float(np.min(np.where(p >= THRESHOLD, p, 1 - p)))
    else:
        given = (labels[int(y)],)
        top = int(np.argmax(p))
        suggested, probability = (labels[top],), float(p[top])
    return Suspect(row, given, suggested, round(probability, 4), round(1.0 - quality, 4))
