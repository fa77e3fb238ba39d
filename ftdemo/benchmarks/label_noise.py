"""Label noise: does the suspects list find planted label errors, and does fixing them help?

`python -m ftdemo bench label-noise --data FILE [--rows N] [--noise 0.05] [--eval-file FILE] [--seeds N]
[--oof instant,words,finetune] [--retrain instant|finetune] [--json]`

Per seed:
1. `rows` labelled rows of FILE are drawn (and 2,000 others for scoring, or `--eval-file`'s), read as an
   import reads them (`label_efficiency.draw_data`).
2. `noise` of them get a wrong label (single-label, pair: another label at random; multi-label: one label
   toggled); k = the number of flips.
3. The app's suspects: out-of-fold probabilities of the models `--oof` names, averaged
   (`suspects.combine`): `instant`, the instant model on the embeddings (C = `suspects.SUSPECTS_C`);
   `words`, the word model on the texts; `finetune`, k fine-tunes of the base model, each scoring the
   fold it did not see (the app's fine-tune check, `training.crossfit`). The default, `instant,words`, is
   the app's list before a check. Then confident learning (`suspects.find_suspects`, cleanlab). precision_at_k: the share of the top k suspects that are
   flips; recall_at_2k: the share of the flips among the top 2k.
4. A simulated reviewer goes through the whole suspects list and relabels a suspect when the suggestion
   is its original label (the reviewer knows it), else leaves it. Then the model is trained again on the
   noisy and on the fixed labels (`--retrain instant`: the instant model, seconds; `finetune`: the
   engine's fine-tune with TrainConfig's defaults, minutes per run on a CPU), with the same seed, and
   both are scored on the held-out rows (accuracy_noisy, accuracy_fixed; accuracy_clean, trained on the
   labels before the flips, for reference).
Means ± standard errors over seeds are printed and returned next to each seed's numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ftdemo.benchmarks import label_efficiency as le
from ftdemo.benchmarks.learning_curves import mean_se
from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training.splits import targets

RETRAIN = ("instant", "finetune")
OOF = ("instant", "words", "finetune")  # the out-of-fold models --oof can average
DEFAULT_OOF = "instant,words"
KEYS = ("precision_at_k", "recall_at_2k", "accuracy_noisy", "accuracy_fixed", "accuracy_clean")


def plant_noise(Y: np.ndarray, share: float, *, task: TaskType, n_labels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A copy of Y with round(share × n) rows given a wrong label, and the indices of those rows."""
    rng = np.random.default_rng(seed)
    k = int(round(share * len(Y)))
    rows = np.sort(rng.choice(len(Y), size=k, replace=False))
    noisy = Y.copy()
    for r in rows:
        if task.is_multi_label:
            j = rng.integers(n_labels)
            noisy[r, j] = 1 - noisy[r, j]
        else:
            noisy[r] = (Y[r] + rng.integers(1, n_labels)) % n_labels
    return noisy, rows


def review(suspect_rows: Sequence[int], suggested: Sequence[np.ndarray], Y_noisy: np.ndarray,
           Y_true: np.ndarray) -> tuple[np.ndarray, int]:
    """The simulated reviewer: a suspect is relabelled when the suggestion is its original label."""
    fixed = Y_noisy.copy()
    changed = 0
    for r, s in zip(suspect_rows, suggested):
        if np.array_equal(s, Y_true[r]) and not np.array_equal(s, Y_noisy[r]):
            fixed[r] = s
            changed += 1
    return fixed, changed


def oof_sources(oof: str) -> tuple[str, ...]:
    """`--oof`'s comma list as a tuple of known models, in OOF's order; a clear error for anything else."""
    names = {name.strip() for name in str(oof).split(",") if name.strip()}
    unknown = names - set(OOF)
    if unknown or not names:
        raise InvalidInputError(f"--oof takes a comma list of {', '.join(OOF)} (e.g. {DEFAULT_OOF}), not {oof!r}")
    return tuple(name for name in OOF if name in names)


def oof_probabilities(sources: Sequence[str], X: np.ndarray, rows: Sequence[LabelledText], Y: np.ndarray,
                      labels: Sequence[str], task: TaskType, *, folds: int, base_model: str, seed: int,
                      num_threads: int = 0, progress: Callable[[str], None] = lambda _line: None) -> np.ndarray:
    """The mean of the named out-of-fold models' probabilities (n, L), on the same folds."""
    from ftdemo.assist import instant, suspects, words

    parts = []
    for source in sources:
        if source == "instant":
            probs, _ = instant.out_of_fold_probabilities(X, Y, task=task, labels=labels, seed=seed,
                                                         C=suspects.SUSPECTS_C, max_folds=folds)
        elif source == "words":
            probs, _ = words.out_of_fold_probabilities([words.joined(ex.text, ex.text_pair) for ex in rows], Y,
                                                       task=task, labels=labels, seed=seed, max_folds=folds)
        else:
            probs = finetune_oof(rows, Y, labels, task, folds=folds, base_model=base_model, seed=seed,
                                 num_threads=num_threads, progress=progress)
        if probs is None:
            raise InvalidInputError("too few labels per class for out-of-fold probabilities; draw more --rows")
        parts.append(probs)
    return suspects.combine(parts)


def finetune_oof(rows: Sequence[LabelledText], Y: np.ndarray, labels: Sequence[str], task: TaskType, *,
                 folds: int, base_model: str, seed: int, num_threads: int = 0,
                 progress: Callable[[str], None] = lambda _line: None) -> np.ndarray:
    """Out-of-fold probabilities from the app's fine-tune check (`training.crossfit`, TrainConfig's defaults)."""
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.crossfit import crossfit

    def report(event: Any) -> None:
        if event.kind == "end":
            progress(f"  fold {event.metrics['fold']}/{event.metrics['folds']} fine-tuned in {event.elapsed_s:.0f} s")

    cfg = TrainConfig(base_model=base_model, seed=seed, num_threads=num_threads)
    return crossfit(_rows_with(rows, Y, labels, task), labels, task, cfg, folds=folds, callbacks=[report]).probabilities


def _rows_with(rows: Sequence[LabelledText], Y: np.ndarray, labels: Sequence[str], task: TaskType) -> list[LabelledText]:
    def names(y: np.ndarray) -> tuple[str, ...]:
        return tuple(labels[j] for j in np.flatnonzero(y)) if task.is_multi_label else (labels[int(y)],)

    return [LabelledText(ex.id, ex.text, ex.text_pair, names(y)) for ex, y in zip(rows, Y)]


def run_label_noise_bench(data: str | Path, eval_file: str | Path | None = None, *, task: str = "single_label",
                          rows: int = 2000, noise: float = 0.05, seeds: int = 3, seed: int = 0, n_eval: int = 2000,
                          retrain: str = "instant", oof: str = DEFAULT_OOF, folds: int = 5, base_model: str | None = None,
                          cache_dir: Path | None = le.DEFAULT_CACHE_DIR, num_threads: int = 0,
                          print_fn: Callable[[str], None] = print,
                          progress: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """Plant noise, find it, fix it, retrain: per seed and mean ± SE (see the module docstring)."""
    from ftdemo.assist.embedder import load_encoder
    from ftdemo.assist.instant import InstantModel
    from ftdemo.assist.suspects import SUSPECTS_C, find_suspects
    from ftdemo.settings import bundled_model_path

    sources = oof_sources(oof)
    if retrain not in RETRAIN:
        raise InvalidInputError(f"--retrain must be one of {', '.join(RETRAIN)}, not {retrain!r}")
    if not 2 <= folds <= 20:
        raise InvalidInputError(f"--folds must be from 2 to 20, not {folds}")
    if not 0 < noise < 0.5:
        raise InvalidInputError(f"--noise must be a share between 0 and 0.5 (e.g. 0.05), not {noise}")
    if seeds < 1 or rows < 20:
        raise InvalidInputError("need at least 1 seed and 20 rows")
    model = str(base_model or bundled_model_path())
    encoder = load_encoder(model, "cpu")
    per_seed: list[dict[str, Any]] = []
    for s in range(seed, seed + seeds):
        t0 = time.perf_counter()
        bench = le.draw_data(data, eval_file, task=task, n_pool=rows, n_eval=n_eval, seed=s)
        labels, kind = bench.labels, bench.task
        X, _ = le.embed_rows(encoder, model, bench.pool, cache_dir)
        X_eval, _ = le.embed_rows(encoder, model, bench.eval, cache_dir)
        Y = targets(bench.pool, labels, kind)
        Y_noisy, flips = plant_noise(Y, noise, task=kind, n_labels=len(labels), seed=s)
        k = len(flips)
        t1 = time.perf_counter()
        probs = oof_probabilities(sources, X, bench.pool, Y_noisy, labels, kind, folds=folds, base_model=model,
                                  seed=s, num_threads=num_threads, progress=progress)
        suspects = find_suspects(Y_noisy, probs, task=kind, labels=labels)
        find_s = time.perf_counter() - t1
        ranked = [x.row for x in suspects]
        planted = set(flips.tolist())
        precision = len(planted & set(ranked[:k])) / max(1, k)
        recall = len(planted & set(ranked[:2 * k])) / max(1, k)
        index = {lab: j for j, lab in enumerate(labels)}

        def as_target(names: tuple[str, ...]) -> np.ndarray:
            if kind.is_multi_label:
                out = np.zeros(len(labels), dtype=Y.dtype)
                out[[index[n] for n in names]] = 1
                return out
            return np.asarray(index[names[0]], dtype=Y.dtype)

        Y_fixed, relabelled = review(ranked, [as_target(x.suggested) for x in suspects], Y_noisy, Y)
        gold_eval = [ex.labels for ex in bench.eval]
        scores: dict[str, float] = {}
        train_s: dict[str, float] = {}
        for name, target in (("noisy", Y_noisy), ("fixed", Y_fixed), ("clean", Y)):
            t2 = time.perf_counter()
            if retrain == "instant":
                fitted = InstantModel.fit(X, target, task=kind, labels=labels, seed=s)
                scores[name] = le.instant_accuracy(fitted, X_eval, gold_eval)
            else:
                run = le.finetune_accuracy(_rows_with(bench.pool, target, labels, kind), labels, kind,
                                           base_model=model, seed=s, eval_rows=bench.eval, num_threads=num_threads)
                scores[name] = run["accuracy"]
            train_s[name] = round(time.perf_counter() - t2, 2)
        one = {"seed": s, "rows": len(bench.pool), "k": k, "flagged": len(suspects), "relabelled": relabelled,
               "precision_at_k": round(precision, 4), "recall_at_2k": round(recall, 4),
               "accuracy_noisy": round(scores["noisy"], 4), "accuracy_fixed": round(scores["fixed"], 4),
               "accuracy_clean": round(scores["clean"], 4), "find_s": round(find_s, 2), "train_s": train_s,
               "seconds": round(time.perf_counter() - t0, 1)}
        per_seed.append(one)
        progress(f"seed {s}: precision@{k} {precision:.3f}, recall@{2 * k} {recall:.3f}, {len(suspects)} flagged, "
                 f"{relabelled} relabelled; accuracy noisy {scores['noisy']:.4f} -> fixed {scores['fixed']:.4f} "
                 f"(clean {scores['clean']:.4f})")
    out: dict[str, Any] = {"data": bench.source, "task": kind.value, "rows": rows, "noise": noise, "seeds": seeds,
                           "retrain": retrain, "oof": ",".join(sources), "folds": folds, "model": Path(model).name, "suspects_C": SUSPECTS_C}
    for key in KEYS:
        m, se = mean_se([p[key] for p in per_seed])
        out[key], out[f"{key}_se"] = m, se
    gains = [p["accuracy_fixed"] - p["accuracy_noisy"] for p in per_seed]
    out["fix_gain"], out["fix_gain_se"] = mean_se(gains)
    out["per_seed"] = per_seed
    print_fn(report(out))
    return out


def report(out: dict[str, Any]) -> str:
    """The benchmark's numbers as a few lines of text."""
    def pm(key: str, scale: float = 1.0) -> str:
        m, se = out.get(key), out.get(f"{key}_se")
        if m is None:
            return "-"
        return f"{scale * m:.3f}" + (f" ± {scale * se:.3f}" if se is not None else "")

    return "\n".join([
        f"label noise: {out['data']}, {out['rows']} rows, {out['noise']:.0%} flipped, {out['seeds']} seeds, "
        f"out-of-fold: {out['oof']} ({out['folds']} folds), retrain: {out['retrain']}",
        f"  suspects: precision@k {pm('precision_at_k')}, recall@2k {pm('recall_at_2k')}",
        f"  held-out accuracy: noisy {pm('accuracy_noisy')}, after the review {pm('accuracy_fixed')} "
        f"(gain {pm('fix_gain', 100)} points), clean labels {pm('accuracy_clean')}",
    ])
