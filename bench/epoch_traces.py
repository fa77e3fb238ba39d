"""Overfitting on small data: per-epoch traces of fine-tunes, and stopping rules replayed on them.

    python bench/epoch_traces.py trace DATA OUT.json [--draws 5] [--labels 300] [--eval-rows 1000]
    python bench/epoch_traces.py replay OUT.json

`trace`: for each draw of `labels` rows of DATA (seeded; `eval-rows` other rows held out), one run of the
engine with TrainConfig's defaults (the automatic epoch count) and early stopping off, recording after
every epoch the validation loss and macro-F1 and the accuracy on the held-out rows. The held-out rows are
scored inside the loop's own per-epoch evaluation (its `predict` is wrapped for the run), so the weights
scored are exactly the ones each epoch ends with. The file is rewritten after every draw.

`replay`: a rule that only stops a run early or rolls it back to an earlier epoch changes nothing before
the epoch it acts on (the learning-rate schedule is planned for the whole run), so its outcome can be read
off a full trace: the held-out accuracy of the epoch it would serve. Replayed: the whole schedule; the rule
before (stop on clear macro-F1 drops, roll back to a clearly better epoch); a rising validation loss
counting as well; always restoring the best epoch; the lowest-validation-loss epoch; and the rule now in
`ftdemo.training.stopping` (no stop and no roll-back under MIN_VALIDATION_ROWS validation rows).
Numbers and their reading: docs/benchmarks.md, "Overfitting on small data".
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from ftdemo.training.stopping import MIN_VALIDATION_ROWS, EpochChoice, clearly_better  # noqa: E402


def trace(data: str, out: str, *, draws: int, labels: int, eval_rows: int) -> None:
    from ftdemo.benchmarks.label_efficiency import read_examples
    from ftdemo.models import selection as sel
    from ftdemo.tasks import TaskType
    from ftdemo.training import loop
    from ftdemo.training.config import TrainConfig

    rows, names = read_examples(data, TaskType.SINGLE_LABEL)
    order = list(range(len(rows)))
    random.Random(7).shuffle(order)
    held, pool = [rows[i] for i in order[:eval_rows]], [rows[i] for i in order[eval_rows:]]
    traces: list[dict] = []
    real_predict, real_tokenize = loop.predict, loop.tokenize
    for d in range(draws):
        drawn = sorted(random.Random(1000 + d).sample(pool, labels), key=lambda e: e.id)
        epochs: list[dict] = []
        seen: dict = {"tokenized": 0}

        def tokenize(split, tokenizer, *args, **kwargs):  # type: ignore[no-untyped-def]
            feats = real_tokenize(split, tokenizer, *args, **kwargs)
            seen["tokenized"] += 1
            seen["tokenizer"] = tokenizer
            if seen["tokenized"] == 2:  # train, validation, test: the second is validation
                seen["validation"] = feats
            return feats

        def predict(model, feats, *args, **kwargs):  # type: ignore[no-untyped-def]
            probs, loss = real_predict(model, feats, *args, **kwargs)
            if feats is seen.get("validation"):
                task = args[-1]
                held_probs = sel.row_probabilities(model, seen["tokenizer"], held, task)
                epochs.append({"val_loss": loss, "held_acc": float(sel.row_scores(held_probs, names, held, names,
                                                                                   task, score="correct").mean())})
                model.train()
            return probs, loss

        loop.predict, loop.tokenize = predict, tokenize
        t0 = time.perf_counter()
        try:
            res = loop.train(drawn, names, "single_label", TrainConfig(seed=d, early_stopping_patience=0))
        finally:
            loop.predict, loop.tokenize = real_predict, real_tokenize
        for row, epoch in zip(res.history, epochs):
            epoch.update(val_f1=row["validation"]["macro_f1"], train_loss=row["train_loss"])
        traces.append({"draw": d, "val_n": res.counts["validation"]["total"], "trace": epochs,
                       "seconds": time.perf_counter() - t0})
        print(f"draw {d}: {len(epochs)} epochs, held-out {[round(e['held_acc'], 3) for e in epochs]}", flush=True)
        Path(out).write_text(json.dumps(traces, indent=1), encoding="utf-8")


def _served(tr: list[dict], n_val: int, *, watch_loss: bool, always_best: bool) -> int:
    """The rule before this change (and two variants), replayed: the 1-based epoch it serves."""
    best, bad, lowest = None, 0, float("inf")
    for e, t in enumerate(tr, 1):
        key = (t["val_f1"], -t["val_loss"])
        if best is None or key > best[1]:
            best, bad = (e, key), 0
        elif clearly_better(best[1][0], key[0], n_val) or (watch_loss and t["val_loss"] > lowest):
            bad += 1
        lowest = min(lowest, t["val_loss"])
        if bad >= 2 and e < len(tr):
            break
    if always_best or (best[0] != e and clearly_better(best[1][0], tr[e - 1]["val_f1"], n_val)):
        return best[0]
    return e


def _served_now(tr: list[dict], n_val: int) -> int:
    choice = EpochChoice(patience=2, n_val=n_val)
    for e, t in enumerate(tr, 1):
        if choice.after_epoch(e, t["val_f1"], t["val_loss"]).stop and e < len(tr):
            break
    return choice.served()


RULES = {
    "whole schedule, last epoch": lambda tr, n: len(tr),
    "before: stop on clear F1 drops (patience 2), roll back if clearly better": lambda tr, n: _served(
        tr, n, watch_loss=False, always_best=False),
    "a rising validation loss counts too": lambda tr, n: _served(tr, n, watch_loss=True, always_best=False),
    "that, and always restore the best epoch": lambda tr, n: _served(tr, n, watch_loss=True, always_best=True),
    "lowest validation loss epoch": lambda tr, n: int(np.argmin([t["val_loss"] for t in tr])) + 1,
    f"now: as before, but nothing under {MIN_VALIDATION_ROWS} validation rows": _served_now,
}


def replay(path: str) -> dict[str, dict]:
    traces = json.loads(Path(path).read_text(encoding="utf-8"))
    out = {}
    for name, rule in RULES.items():
        served = [rule(d["trace"], d["val_n"]) for d in traces]
        acc = np.array([d["trace"][e - 1]["held_acc"] for d, e in zip(traces, served)])
        se = float(acc.std(ddof=1) / np.sqrt(len(acc))) if len(acc) > 1 else 0.0
        out[name] = {"mean": float(acc.mean()), "se": se, "per_draw": acc.round(4).tolist(), "served": served}
        print(f"{name:<74} {acc.mean():.4f} ± {se:.4f}  {acc.round(3).tolist()}  epochs {served}")
    for d in traces:
        print(f"draw {d['draw']} ({d['val_n']} validation rows): val loss {[round(t['val_loss'], 2) for t in d['trace']]}"
              f"\n  val macro-F1 {[round(t['val_f1'], 2) for t in d['trace']]}"
              f"\n  held-out acc {[round(t['held_acc'], 3) for t in d['trace']]}")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("trace")
    p.add_argument("data")
    p.add_argument("out")
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--labels", type=int, default=300)
    p.add_argument("--eval-rows", type=int, default=1000)
    p = sub.add_parser("replay")
    p.add_argument("out")
    args = parser.parse_args()
    if args.command == "trace":
        trace(args.data, args.out, draws=args.draws, labels=args.labels, eval_rows=args.eval_rows)
    else:
        replay(args.out)
