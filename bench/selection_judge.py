"""Can an independent model on the unlabelled texts tell which of two same-label fine-tunes is better?

    python bench/selection_judge.py run DATA OUT_DIR [--draws 20] [--unlabelled 3000] [--threads 2]
    python bench/selection_judge.py read OUT_DIR

The selection benchmark (`python -m ftdemo bench selection`) found that two fine-tunes of the same 300
labels differ by ~0.8 points held out, far inside what ~30 validation rows resolve. The unlabelled texts
are many more rows. They carry no labels, but a judge that is right more often than not where the two
versions disagree would say which version is right more often. The judge tried here is the app's
instant model (a logistic regression on the *base* checkpoint's embeddings, fitted on the same labels):
it shares no weights with either fine-tune.

`run`: the very draws of `bench selection` (seed 0: the same 2,000 held-out rows, the same 300 labels per
draw, TrainConfig's defaults with seeds 0 and 1), plus `unlabelled` other pool rows per draw. Per draw it
saves both versions' probabilities on the held-out, unlabelled and validation rows and the judge's on the
held-out and unlabelled rows (`OUT_DIR/draw_N.npz`).

`read`: per draw, the held-out accuracies (the truth), how often the judge sides with the version that is
right where the two disagree on the held-out rows (`q`), and which version each rule picks:
- `agree`: the version whose answers on the unlabelled rows agree more often with the judge's;
- `judged`: the higher mean judge probability of the version's answers on the unlabelled rows, with
  `z`, that difference over its standard error;
- `p_true`: the higher mean probability of the true label on the validation rows (no test).
Numbers and their reading: docs/benchmarks.md, "Model selection", "An independent judge".
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing


def run(data: str, out_dir: Path, draws: int, n_unlabelled: int, threads: int) -> None:
    from ftdemo.assist.embedder import load_encoder
    from ftdemo.assist.instant import InstantModel
    from ftdemo.benchmarks.label_efficiency import embed_rows, read_examples
    from ftdemo.benchmarks.selection import draw_labels, held_and_pool
    from ftdemo.models import selection as sel
    from ftdemo.settings import bundled_model_path
    from ftdemo.tasks import TaskType
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.loop import train
    from ftdemo.training.splits import make_splits, targets

    task = TaskType.SINGLE_LABEL
    rows, names = read_examples(data, task)
    held, pool = held_and_pool(rows, 2000, seed=0)  # bench selection's, with its defaults
    model = bundled_model_path()
    encoder = load_encoder(model, "cpu")
    cache = out_dir / "embeddings"
    cache.mkdir(parents=True, exist_ok=True)
    X_held, _ = embed_rows(encoder, model, held, cache)
    y_held = targets(held, names, task)
    for d in range(draws):
        t0 = time.perf_counter()
        drawn = draw_labels(pool, 300, 0, d)
        taken = {ex.id for ex in drawn}
        unlabelled = [ex for ex in random.Random(1000 + d).sample(pool, n_unlabelled + 300)
                      if ex.id not in taken][:n_unlabelled]
        X_lab, _ = embed_rows(encoder, model, drawn, cache)
        X_unl, _ = embed_rows(encoder, model, unlabelled, cache)
        judge = InstantModel.fit(X_lab, targets(drawn, names, task), task=task, labels=names)
        out = {"y_held": y_held, "judge_held": judge.predict_proba(X_held), "judge_unl": judge.predict_proba(X_unl)}
        val: list = []
        for k in range(2):
            cfg = TrainConfig(base_model="", seed=k, num_threads=threads)
            res = train(drawn, names, task, cfg)
            if k == 0:
                val = make_splits(drawn, names, task, val_fraction=cfg.val_fraction,
                                  test_fraction=cfg.test_fraction).validation
                out["y_val"] = targets(val, names, task)
            columns = [res.labels.index(n) for n in names]
            for part, part_rows in (("held", held), ("unl", unlabelled), ("val", val)):
                probs = sel.row_probabilities(res.model, res.tokenizer, part_rows, task, max_length=cfg.max_length)
                out[f"m{k}_{part}"] = probs[:, columns]
            del res
        np.savez(out_dir / f"draw_{d}.npz", **out)
        acc = [float((out[f"m{k}_held"].argmax(1) == y_held).mean()) for k in range(2)]
        print(f"draw {d}: held-out {acc[0]:.4f} / {acc[1]:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)


def read(out_dir: Path) -> None:
    files = sorted(out_dir.glob("draw_*.npz"), key=lambda p: int(p.stem.split("_")[1]))
    picks: dict[str, int] = {"agree": 0, "judged": 0, "p_true": 0, "second": 0}
    confident = {1.64: [0, 0], 1.96: [0, 0]}
    decided = 0
    for f in files:
        z = np.load(f)
        y = z["y_held"]
        said = [z[f"m{k}_held"].argmax(1) for k in range(2)]
        acc = [float((s == y).mean()) for s in said]
        if acc[0] == acc[1]:
            continue
        decided += 1
        better = int(acc[1] > acc[0])
        differ = said[0] != said[1]
        right = (said[1][differ] == y[differ]).astype(int)  # 1 where the second version is the right one
        judge_held = z["judge_held"].argmax(1)[differ]
        q = float(((judge_held == said[1][differ]).astype(int) == right).mean())
        unl = [z[f"m{k}_unl"].argmax(1) for k in range(2)]
        judge = z["judge_unl"]
        agree = [float((u == judge.argmax(1)).mean()) for u in unl]
        diff = judge[np.arange(len(judge)), unl[1]] - judge[np.arange(len(judge)), unl[0]]
        zscore = float(diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))) if diff.std() > 0 else 0.0
        yv = z["y_val"]
        p_true = [float(z[f"m{k}_val"][np.arange(len(yv)), yv].mean()) for k in range(2)]
        chosen = {"agree": int(agree[1] > agree[0]), "judged": int(diff.mean() > 0),
                  "p_true": int(p_true[1] > p_true[0]), "second": 1}
        for rule, pick in chosen.items():
            picks[rule] += pick == better
        for cut, tally in confident.items():
            if abs(zscore) >= cut:
                tally[0] += 1
                tally[1] += (zscore > 0) == bool(better)
        print(f"{f.stem}: held-out {acc[0]:.4f} / {acc[1]:.4f}, they differ on {int(differ.sum())} rows, judge right "
              f"there {q:.2f}; judged z {zscore:+.2f}; picks: "
              + ", ".join(f"{rule} {'right' if pick == better else 'wrong'}" for rule, pick in chosen.items()))
    print(f"\n{decided} draws with a better version; picks of the better one: "
          + ", ".join(f"{rule} {n}" for rule, n in picks.items()))
    for cut, (n, right) in confident.items():
        print(f"judged |z| >= {cut}: {n} draws, right in {right}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run")
    p_run.add_argument("data")
    p_run.add_argument("out_dir", type=Path)
    p_run.add_argument("--draws", type=int, default=20)
    p_run.add_argument("--unlabelled", type=int, default=3000)
    p_run.add_argument("--threads", type=int, default=2)
    p_read = sub.add_parser("read")
    p_read.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "run":
        args.out_dir.mkdir(parents=True, exist_ok=True)
        run(args.data, args.out_dir, args.draws, args.unlabelled, args.threads)
    else:
        read(args.out_dir)


if __name__ == "__main__":
    sys.exit(main())
