"""Model selection: does the activation guard serve the better of two fine-tunes? (issue 12, "Selection")

`python -m ftdemo bench selection --data FILE [--labels 300] [--draws 20] [--eval-rows 2000] [--seeds 2]
[--json] [--out FILE]`

1. Data: the labelled rows of FILE (read as `bench label-efficiency` reads them); `eval_rows` of them are
   held out once, and every draw takes `labels` other rows at random: the labels a user has so far. Row
   positions are the example ids, so each draw gets its own validation split, exactly as the app makes it
   (a hash of the id; the seed does not move it).
2. Per draw, the engine fine-tunes the base model `seeds` times with TrainConfig's defaults and seeds
   SEED, SEED+1, ...: the first version goes live (no active model), each next one is a candidate. With
   `grow` > 0 the first version trains on a random `labels - grow` of the draw's labels and the others on
   all of them: retraining as labels arrive, the case the app meets most (the candidate then has every
   label of the first version and `grow` more, which the new rule is told, as jobs.runner tells it).
3. Each rule decides, per candidate, against the version *it* serves at that moment:
   - old: `guard.activation_decision` on each version's own validation macro-F1 (the rule before);
   - new: `guard.paired_activation` on both versions' per-row scores over the candidate's validation rows
     (models.selection, what jobs.runner does), for each per-row score of `selection.SCORES` (the
     app's default, `selection.DEFAULT_SCORE`, is the one the headline counts use).
   Both with the app's default margin (Settings.activation_margin) unless `margin` is given.
4. The truth: accuracy of both versions on the held-out rows. A rule "picks better" when the version it
   serves after the decision is the one that is more accurate there; an exact tie counts as a tie. A
   "bad activation" of the new rule: it activated a candidate that is worse on the held-out rows by more
   than the half-width of the interval it reported.

The result is written after every draw to `out` (if given), so a long run can be read while it goes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType


def run_selection_bench(data: str | Path, *, labels: int = 300, draws: int = 20, eval_rows: int = 2000,
                        seeds: int = 2, seed: int = 0, grow: int = 0, margin: float | None = None,
                        base_model: str | None = None,
                        num_threads: int = 0, out: str | Path | None = None,
                        progress: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); returns the counts and per-draw details."""
    from ftdemo.benchmarks.label_efficiency import read_examples
    from ftdemo.models import selection as sel
    from ftdemo.settings import Settings

    if seeds < 2:
        raise InvalidInputError("the selection benchmark compares versions: --seeds must be at least 2")
    if not 0 <= grow <= labels - 20:
        raise InvalidInputError(f"--grow must leave the first version at least 20 labels: from 0 to {labels - 20}, "
                                f"not {grow}")
    rows, label_names = read_examples(data, TaskType.SINGLE_LABEL)
    if len(rows) < eval_rows + labels:
        raise InvalidInputError(f"{Path(data).name} has {len(rows)} labelled rows; need {eval_rows + labels} "
                                f"({eval_rows} held out and {labels} per draw)")
    margin = Settings().activation_margin if margin is None else float(margin)
    held, pool = held_and_pool(rows, eval_rows, seed)
    result: dict[str, Any] = {
        "data": Path(data).name, "labels": labels, "eval_rows": len(held), "seeds": seeds, "margin": margin,
        "score": sel.DEFAULT_SCORE, "grow": grow, "draws_planned": draws, "per_draw": []}
    t0 = time.perf_counter()
    for d in range(draws):
        drawn = draw_labels(pool, labels, seed, d)
        first = (sorted(random.Random(seed * 100_003 + d + 1).sample(drawn, labels - grow), key=lambda ex: ex.id)
                 if grow else drawn)
        result["per_draw"].append(_one_draw(drawn, held, label_names, seeds=seeds, seed=seed, margin=margin,
                                            base_model=base_model, num_threads=num_threads, first=first))
        result.update(summarise(result["per_draw"]), elapsed_s=time.perf_counter() - t0)
        last = result["per_draw"][-1]
        progress(f"draw {d + 1}/{draws}: held-out {', '.join(f'{a:.3f}' for a in last['heldout_accuracy'])}; "
                 f"old picks better {result['old_rule_picks_better']}, new {result['new_rule_picks_better']}, "
                 f"ties {result['ties']} ({time.perf_counter() - t0:.0f} s)")
        if out:
            Path(out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def held_and_pool(rows: Sequence[LabelledText], eval_rows: int, seed: int) -> tuple[list[LabelledText],
                                                                                   list[LabelledText]]:
    """The rows held out once (the truth) and the pool the draws take their labels from."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [rows[i] for i in order[:eval_rows]], [rows[i] for i in order[eval_rows:]]


def draw_labels(pool: Sequence[LabelledText], labels: int, seed: int, draw: int) -> list[LabelledText]:
    """Draw number `draw`'s labelled rows (by id): the labels a user has so far."""
    return sorted(random.Random(seed * 100_003 + draw + 1).sample(list(pool), labels), key=lambda ex: ex.id)


def _one_draw(drawn: list[LabelledText], held: list[LabelledText], labels: list[str], *, seeds: int, seed: int,
              margin: float, base_model: str | None, num_threads: int,
              first: list[LabelledText] | None = None) -> dict[str, Any]:
    """Train `seeds` versions (the first on `first`, a subset of `drawn`, when given), then let each rule decide."""
    from ftdemo.models import selection as sel
    from ftdemo.models.guard import activation_decision, paired_activation
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.loop import train
    from ftdemo.training.splits import make_splits

    task = TaskType.SINGLE_LABEL
    versions: list[dict[str, Any]] = []
    val_rows: list[LabelledText] = []
    for k in range(seeds):
        cfg = TrainConfig(base_model=base_model or "", seed=seed + k, num_threads=num_threads)
        t = time.perf_counter()
        res = train(first if k == 0 and first is not None else drawn, labels, task, cfg)
        if k == 0:  # the candidates' validation rows: a hash of the id, so the first version never trained on them
            val_rows = make_splits(drawn, labels, task, val_fraction=cfg.val_fraction,
                                   test_fraction=cfg.test_fraction).validation
        val_probs = sel.row_probabilities(res.model, res.tokenizer, val_rows, task, max_length=cfg.max_length)
        held_probs = sel.row_probabilities(res.model, res.tokenizer, held, task, max_length=cfg.max_length)
        versions.append({
            "seed": seed + k, "metrics": res.metrics, "epochs": len(res.history), "best_epoch": res.best_epoch,
            "stopped_early": res.stopped_early, "train_s": time.perf_counter() - t,
            "val": {s: sel.row_scores(val_probs, res.labels, val_rows, labels, task, score=s) for s in sel.SCORES},
            "held": sel.row_scores(held_probs, res.labels, held, labels, task, score="correct")})
        del res
    heldout = [float(v["held"].mean()) for v in versions]
    decisions: list[dict[str, Any]] = []
    serving = {"old": 0, **{f"new_{s}": 0 for s in sel.SCORES}}
    for k in range(1, seeds):
        cand = versions[k]
        row: dict[str, Any] = {"candidate": k}
        for rule, active in list(serving.items()):
            act = versions[active]
            if rule == "old":
                ok, reason = activation_decision(cand["metrics"], act["metrics"], margin)
                extra: dict[str, Any] = {}
            else:
                score = rule.removeprefix("new_")
                comparison = sel.compare_models(cand["val"][score], act["val"][score])
                added = len(drawn) - len(first) if first is not None and active == 0 else 0
                ok, reason = paired_activation(comparison, margin, added_labels=added)
                extra = {"comparison": comparison.to_dict()}
                held_diff = heldout[k] - heldout[active]
                extra["bad_activation"] = bool(ok and held_diff < -comparison.half_width)
            better = None if heldout[k] == heldout[active] else (k if heldout[k] > heldout[active] else active)
            picked = k if ok else active
            row[rule] = {"active": active, "activated": ok, "reason": reason, "better": better,
                         "picks_better": None if better is None else picked == better, **extra}
            serving[rule] = picked
        decisions.append(row)
    return {"heldout_accuracy": heldout, "validation_rows": len(val_rows),
            "labels": [len(first) if k == 0 and first is not None else len(drawn) for k in range(seeds)],
            "validation_macro_f1": [v["metrics"]["validation"].get("macro_f1") for v in versions],
            "epochs": [v["epochs"] for v in versions], "best_epoch": [v["best_epoch"] for v in versions],
            "train_s": [round(v["train_s"], 1) for v in versions], "decisions": decisions}


def summarise(per_draw: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The counts over the draws so far: picks of the better version per rule, ties, activations, bad ones."""
    from ftdemo.models import selection as sel

    rows = [row for d in per_draw for row in d["decisions"]]
    rules = ["old"] + [f"new_{s}" for s in sel.SCORES]
    per_rule = {rule: {"picks_better": sum(r[rule]["picks_better"] is True for r in rows),
                       "picks_worse": sum(r[rule]["picks_better"] is False for r in rows),
                       "activations": sum(bool(r[rule]["activated"]) for r in rows),
                       "bad_activations": sum(bool(r[rule].get("bad_activation")) for r in rows)}
                for rule in rules}
    new = per_rule[f"new_{sel.DEFAULT_SCORE}"]
    gaps = [abs(d["heldout_accuracy"][1] - d["heldout_accuracy"][0]) for d in per_draw]
    return {"draws": len(per_draw), "decisions": len(rows),
            "ties": sum(r["old"]["picks_better"] is None for r in rows),
            "old_rule_picks_better": per_rule["old"]["picks_better"],
            "new_rule_picks_better": new["picks_better"],
            "old_rule_activations": per_rule["old"]["activations"],
            "new_rule_activations": new["activations"],
            "new_rule_bad_activations": new["bad_activations"],
            "per_rule": per_rule,
            "mean_heldout_gap": float(np.mean(gaps)) if gaps else None}
