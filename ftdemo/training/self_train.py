"""Self-training: the fine-tuned model labels the unlabelled pool, and a student learns from both.

After the plain fine-tune (the teacher), each round: the teacher predicts every unlabelled text; the
confident predictions become pseudo-labels (`select_pseudo_labels`, by the config's rule); a student is
fine-tuned from the base model again on the gold labels plus the pseudo-labels, which weigh
`pseudo_label_weight` in the loss and join the training split only (validation and test stay gold). The
student is kept only if it is clearly better than its teacher on the same validation rows
(`ftdemo.models.compare.paired_comparison`: the whole bootstrap interval of the paired difference above
zero), and then teaches the next round; otherwise the rounds stop and the teacher is the result.

Pseudo-labels exist only here, in memory, for the length of the run: nothing writes them to the store.
No database and no UI, like loop.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training import setup
from ftdemo.training.config import TrainConfig
from ftdemo.training.data import collate, tokenize
from ftdemo.training.evaluate import predict
from ftdemo.training.loop import Callback, ProgressEvent, TrainResult, train


def select_pseudo_labels(probs: np.ndarray, task: TaskType | str, config: TrainConfig,
                         thresholds: Sequence[float] | None = None) -> list[tuple[int, tuple[int, ...]]]:
    """Which pool rows get which pseudo-labels: (row, label indices), most confident first.

    Single-label/pair: a row's confidence is its top probability, its label the top one. Multi-label: a
    row's confidence is how decided its least decided label is (min over labels of max(p, 1 - p)); its labels
    are those at or above their tuned `thresholds`, and a row with none is left out. Every rule needs the
    confidence to reach `pseudo_label_threshold` and takes at most `pseudo_label_share` of the pool;
    "balanced_top_k" splits that evenly: each label gets at most share x pool / labels of its most confident
    rows, so the model's favourite class cannot crowd the others out."""
    task = TaskType.parse(task)
    n, k = probs.shape if probs.ndim == 2 else (0, 0)
    if n == 0:
        return []
    cap = int(config.pseudo_label_share * n)
    if task.is_multi_label:
        cut = np.asarray(thresholds if thresholds is not None else [config.multi_label_threshold] * k)
        positive = probs >= cut[None, :]
        conf = np.maximum(probs, 1 - probs).min(axis=1)
        eligible = (conf >= config.pseudo_label_threshold) & positive.any(axis=1)
    else:
        positive = probs == probs.max(axis=1, keepdims=True)
        positive &= np.cumsum(positive, axis=1) == 1  # ties: the first top label only
        conf = probs.max(axis=1)
        eligible = conf >= config.pseudo_label_threshold
    order = [int(i) for i in np.argsort(-conf, kind="stable") if eligible[i]]
    if config.pseudo_label_rule == "threshold":
        chosen = order[:cap]
    else:
        per_label = cap // max(1, k)
        picked: set[int] = set()
        for label in range(k):
            picked.update([i for i in order if positive[i, label]][:per_label])
        chosen = [i for i in order if i in picked]
    return [(i, tuple(int(j) for j in np.flatnonzero(positive[i]))) for i in chosen]


def pool_probabilities(result: TrainResult, pool: Sequence[LabelledText]) -> np.ndarray:
    """The trained model's probabilities for every pool text (pool order), batched like evaluation."""
    if not pool:
        return np.zeros((0, len(result.labels)))
    cfg = result.config
    # tokenize needs a label per row to build its targets; the placeholder is never read as one
    stand_in = [LabelledText(ex.id, ex.text, ex.text_pair, (result.labels[0],)) for ex in pool]
    feats = tokenize(stand_in, result.tokenizer, result.labels, result.task, cfg.max_length)
    device = next(result.model.parameters()).device
    precision = setup.resolve_precision(cfg.precision, device)
    pad_id = result.tokenizer.pad_token_id if result.tokenizer.pad_token_id is not None else 0
    batch_of = lambda f, b: collate(f, b, pad_id=pad_id, multi_label=result.task.is_multi_label,  # noqa: E731
                                    num_labels=len(result.labels), device=device)
    lengths = feats.lengths
    budget = max(max(lengths), cfg.batch_tokens or round(cfg.batch_size * sum(lengths) / len(lengths)))
    with setup.torch_threads(device, cfg.num_threads):
        probs, _loss = predict(result.model, feats, batch_of, budget, device, precision, result.task)
    return probs


def train_with_pool(examples: Sequence[LabelledText], labels: Sequence[str], task: TaskType | str,
                    config: TrainConfig | None = None, pool: Sequence[LabelledText] = (), *,
                    callbacks: Sequence[Callback] = (), should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """`loop.train`, then `config.self_training_rounds` rounds of self-training on `pool` (unlabelled texts).

    With 0 rounds or an empty pool it is exactly `train`. The result is the last model kept; its
    `self_training` says, per round, how many pseudo-labels were used and how the student compared."""
    cfg = config or TrainConfig()
    if not cfg.self_training_rounds or not pool:
        return train(examples, labels, task, cfg, callbacks=callbacks, should_stop=should_stop)
    relay = _Relay(callbacks)
    teacher = train(examples, labels, task, cfg, callbacks=[relay], should_stop=should_stop)
    teacher_end = relay.last_end
    rounds: list[dict[str, Any]] = []
    for number in range(1, cfg.self_training_rounds + 1):
        probs = pool_probabilities(teacher, pool)
        chosen = select_pseudo_labels(probs, teacher.task, cfg, list((teacher.thresholds or {}).values()) or None)
        row: dict[str, Any] = {"round": number, "pseudo_labelled": len(chosen),
                               "per_label": {lab: sum(1 for _, js in chosen if i in js)
                                             for i, lab in enumerate(teacher.labels)}}
        if not chosen:
            rounds.append({**row, "kept": False, "says": "no pool text was confident enough: no student trained"})
            break
        pseudo = [LabelledText(pool[i].id, pool[i].text, pool[i].text_pair, tuple(teacher.labels[j] for j in js))
                  for i, js in chosen]
        student = train(examples, labels, task, cfg, callbacks=[relay], should_stop=should_stop,
                        extra_train=pseudo, extra_weight=cfg.pseudo_label_weight)
        comparison = _compare(student, teacher, cfg.seed)
        kept = comparison.clearly_better
        rounds.append({**row, "kept": kept, "comparison": comparison.to_dict(),
                       "says": comparison.describe("its teacher") + ("; kept" if kept else "; the teacher stays")})
        if not kept:
            break
        teacher, teacher_end = student, relay.last_end
    teacher.self_training = {"rounds": rounds, "pool": len(pool), "kept_rounds": sum(r["kept"] for r in rounds),
                             "rule": cfg.pseudo_label_rule, "weight": cfg.pseudo_label_weight}
    if teacher_end is not None:
        relay.finish(teacher_end)
    return teacher


def _compare(student: TrainResult, teacher: TrainResult, seed: int) -> Any:
    from ftdemo.models.compare import paired_comparison

    return paired_comparison(np.asarray(student.validation_scores), np.asarray(teacher.validation_scores), seed=seed)


class _Relay:
    """Passes the rounds' progress on as one run: every event but each round's "end", which is held back
    until the kept model is known, then sent once."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)
        self.last_end: ProgressEvent | None = None

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "end":
            self.last_end = event
            return
        for cb in self.callbacks:
            cb(event)

    def finish(self, event: ProgressEvent) -> None:
        for cb in self.callbacks:
            cb(event)
