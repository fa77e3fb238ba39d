"""Learning from unlabelled texts: what adaptation and self-training add to a fine-tune on few labels.

`python -m ftdemo bench unlabelled --data FILE [--labels N] [--eval-file FILE] [--seeds N] [--json]`

1. Data: the labelled rows of FILE, read as `bench label-efficiency` reads them (the app's readers). The
   scoring rows are `--eval-file`'s (a text also in FILE is dropped from FILE), else `n_eval` rows of FILE
   that are never labelled, adapted on or pseudo-labelled. The rest of FILE is the dataset: per draw (seeds
   seed, seed+1, ...) `labels` rows keep their labels, the others (at most `n_unlabelled`) lose theirs and
   form the unlabelled pool.
2. Adaptation (`ftdemo.training.adapt`, AdaptConfig's defaults but the `adapt_*` arguments: epochs, texts,
   learning rate, whole-word masking) runs once on every text of the dataset, labelled or not (the same texts
   in every draw), and is saved to a temporary folder that the fine-tunes take as their base model.
3. Per draw, four fine-tunes with TrainConfig's defaults (no test split: the scoring rows are the test):
   plain; from the adapted checkpoint; plain + self-training on the pool (`training.self_train`,
   `self_training_rounds`); both. Each is scored on the same rows (exact-match accuracy, as
   `bench label-efficiency` scores).
4. CPU time (this process, all threads) of each technique per draw: the fine-tune's, plus, for adaptation,
   the one adaptation run's (it serves every draw, so it is added whole to each draw's figure).

Engine only (torch, transformers, numpy, and the app's file readers): it runs on a GPU machine as on a CPU.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ftdemo.benchmarks.label_efficiency import held_out_file, model_accuracy, read_examples
from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType

TECHNIQUES = ("plain", "adapt", "self_train", "both")
TARGET_SST2_ACCURACY, TARGET_GAIN = 0.86, 0.015  # the "must hold"


def split_rows(data: str | Path, eval_file: str | Path | None, *, task: TaskType | str = "single_label",
               n_eval: int = 2000, seed: int = 0) -> tuple[list[LabelledText], list[LabelledText], list[str]]:
    """(dataset rows, scoring rows, labels): the scoring rows never enter the dataset (see the docstring)."""
    kind = TaskType.parse(task)
    rows, labels = read_examples(data, kind)
    rng = random.Random(seed)
    if eval_file:
        rest, held, labels = held_out_file(rows, labels, eval_file, kind, n_eval, rng)
    else:
        if len(rows) < n_eval + 10:
            raise InvalidInputError(f"{Path(data).name} has {len(rows)} labelled rows; need more than the {n_eval} "
                                    "held out for scoring")
        shuffled = rng.sample(rows, len(rows))
        held, rest = shuffled[:n_eval], shuffled[n_eval:]
    renumber = lambda part, start: [LabelledText(start + i, ex.text, ex.text_pair, ex.labels)  # noqa: E731
                                    for i, ex in enumerate(part)]
    return renumber(rest, 0), renumber(held, len(rest)), labels


def draw(rows: Sequence[LabelledText], n_labels: int, n_unlabelled: int, seed: int
         ) -> tuple[list[LabelledText], list[LabelledText]]:
    """One draw: `n_labels` labelled rows, and the unlabelled pool (the others, labels dropped, at most
    `n_unlabelled`; 0 = all of them)."""
    if n_labels >= len(rows):
        raise InvalidInputError(f"the data has {len(rows)} rows besides the scoring rows; {n_labels} labels leave "
                                "no unlabelled pool")
    order = random.Random(seed).sample(range(len(rows)), len(rows))
    labelled = [rows[i] for i in order[:n_labels]]
    rest = order[n_labels:]
    pool = [LabelledText(rows[i].id, rows[i].text, rows[i].text_pair, ()) for i in rest[:n_unlabelled or len(rest)]]
    return labelled, pool


def run_unlabelled_bench(
        data: str | Path, eval_file: str | Path | None = None, *, task: str = "single_label", labels: int = 1000,
        seeds: int = 3, seed: int = 0, n_eval: int = 2000, n_unlabelled: int = 0, adapt_epochs: int = 1,
        adapt_texts: int = 0, adapt_learning_rate: float | None = None, adapt_whole_word_mask: bool = False,
        self_training_rounds: int = 1, base_model: str | None = None, num_threads: int = 0,
        print_fn: Callable[[str], None] = print, progress: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """Run the benchmark; print and return the numbers.

    Returns `plain_accuracy`, `adapt_accuracy`, `self_train_accuracy`, `both_accuracy` (means over the draws)
    with `_se` (standard error over draws) and `_cpu_s` (CPU seconds per draw) for each, `*_gain` (mean paired
    difference from plain), `adaptation` (the one adaptation run: texts, masked-LM scores before/after, CPU
    seconds, texts/s), `per_seed` rows, `targets` and `timings`."""
    from ftdemo.settings import bundled_model_path
    from ftdemo.training.adapt import adapt
    from ftdemo.training.adapt_config import AdaptConfig
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.self_train import train_with_pool

    if seeds < 1 or labels < 2:
        raise InvalidInputError("need at least 1 seed and 2 labels")
    kind = TaskType.parse(task)
    model = base_model or bundled_model_path()
    # validated before the data is read: a bad setting is refused at once
    adapt_cfg = AdaptConfig(base_model=model, epochs=adapt_epochs, max_texts=adapt_texts, seed=seed,
                            num_threads=num_threads, whole_word_mask=adapt_whole_word_mask,
                            **({} if adapt_learning_rate is None else {"learning_rate": adapt_learning_rate}))
    t_start = time.perf_counter()
    rows, eval_rows, label_names = split_rows(data, eval_file, task=kind, n_eval=n_eval, seed=seed)
    progress(f"{len(rows)} dataset rows, {len(eval_rows)} scoring rows, {len(label_names)} labels")

    with tempfile.TemporaryDirectory(prefix="ftdemo-bench-adapted-") as adapted_dir:
        # adaptation: once, on the dataset's texts (the labelled and the unlabelled alike)
        texts = [LabelledText(ex.id, ex.text, ex.text_pair, ()) for ex in rows]
        cpu, wall = time.process_time(), time.perf_counter()
        adapted = adapt(texts, adapt_cfg)
        adapted.model.save_pretrained(adapted_dir)
        adapted.tokenizer.save_pretrained(adapted_dir)
        adaptation = {"texts": adapted.counts["texts"], "heldout_texts": adapted.counts["heldout"],
                      "epochs": adapt_epochs, "learning_rate": adapt_cfg.learning_rate,
                      "whole_word_mask": adapt_cfg.whole_word_mask, "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                      "train_texts_per_s": adapted.timings["train_texts_per_s"], "device": adapted.device,
                      "masked_lm": adapted.metrics}
        del adapted
        progress(f"adapted on {adaptation['texts']} texts in {adaptation['wall_s']:.0f} s "
                 f"({adaptation['train_texts_per_s']:.0f} texts/s)")

        per_seed: list[dict[str, Any]] = []
        for s in range(seed, seed + seeds):
            labelled, pool = draw(rows, labels, n_unlabelled, s)
            row: dict[str, Any] = {"seed": s, "labels": len(labelled), "pool": len(pool)}
            for technique in TECHNIQUES:
                cfg = TrainConfig(base_model=adapted_dir if technique in ("adapt", "both") else model, seed=s,
                                  test_fraction=0.0, num_threads=num_threads,
                                  self_training_rounds=self_training_rounds if technique in ("self_train", "both") else 0)
                cpu = time.process_time()
                result = train_with_pool(labelled, label_names, kind, cfg, pool if cfg.self_training_rounds else [])
                cpu_s = time.process_time() - cpu + (adaptation["cpu_s"] if technique in ("adapt", "both") else 0.0)
                row[f"{technique}_accuracy"] = model_accuracy(result, eval_rows)
                row[f"{technique}_cpu_s"] = cpu_s
                if result.self_training:
                    row[f"{technique}_self_training"] = result.self_training
                progress(f"seed {s} {technique}: accuracy {row[f'{technique}_accuracy']:.4f}, {cpu_s:.0f} CPU s")
            per_seed.append(row)

    out: dict[str, Any] = {"data": Path(data).name, "eval": Path(eval_file).name if eval_file else None,
                           "labels": labels, "seeds": [r["seed"] for r in per_seed], "n_eval": len(eval_rows),
                           "pool": per_seed[0]["pool"], "base_model": model, "adaptation": adaptation}
    for technique in TECHNIQUES:
        accs = [r[f"{technique}_accuracy"] for r in per_seed]
        out[f"{technique}_accuracy"] = statistics.fmean(accs)
        out[f"{technique}_accuracy_se"] = statistics.stdev(accs) / len(accs) ** 0.5 if len(accs) > 1 else None
        out[f"{technique}_cpu_s"] = statistics.fmean(r[f"{technique}_cpu_s"] for r in per_seed)
        if technique != "plain":
            out[f"{technique}_gain"] = statistics.fmean(r[f"{technique}_accuracy"] - r["plain_accuracy"]
                                                        for r in per_seed)
    out["targets"] = {"best_accuracy_at_least_0.86": max(out[f"{t}_accuracy"] for t in TECHNIQUES[1:])
                      >= TARGET_SST2_ACCURACY,
                      "best_gain_at_least_1.5_points": max(out[f"{t}_gain"] for t in TECHNIQUES[1:]) >= TARGET_GAIN}
    out["per_seed"] = per_seed
    out["timings"] = {"total_s": time.perf_counter() - t_start}
    _print(out, print_fn)
    return out


def _print(out: dict[str, Any], print_fn: Callable[[str], None]) -> None:
    a = out["adaptation"]
    mlm = a["masked_lm"]
    print_fn(f"{out['data']}: {out['labels']} labels, pool {out['pool']} unlabelled, scored on {out['n_eval']} rows, "
             f"{len(out['seeds'])} draw(s)")
    if mlm["before"].get("masked_tokens"):
        print_fn(f"adaptation on {a['texts']} texts, {a['epochs']} epoch(s): held-out masked-LM loss "
                 f"{mlm['before']['loss']:.3f} -> {mlm['after']['loss']:.3f}, accuracy {mlm['before']['accuracy']:.3f} "
                 f"-> {mlm['after']['accuracy']:.3f}; {a['cpu_s']:.0f} CPU s, {a['train_texts_per_s']:.0f} texts/s")
    for technique in TECHNIQUES:
        se = out[f"{technique}_accuracy_se"]
        gain = out.get(f"{technique}_gain")
        print_fn(f"  {technique:<11} accuracy {out[f'{technique}_accuracy']:.4f}" + (f" ± {se:.4f}" if se else "")
                 + (f"  gain {gain * 100:+.2f} points" if gain is not None else "")
                 + f"  {out[f'{technique}_cpu_s']:.0f} CPU s per draw")
