"""Label efficiency: how many labels each queue order needs, measured with a simulated annotator.

`python -m ftdemo bench label-efficiency --data FILE [--eval-file FILE] [--budgets ...] [--strategies ...]
[--seeds N] [--finetune-budgets ...] [--retrain-every N] [--json] [--plot FILE.png]`

1. Data: the labelled rows of FILE, read by the app's own readers (`ftdemo.io`: CSV, TSV, JSON lines, ...;
   a CSV/TSV without a header line is read as text[, pair], label), duplicates dropped as an import
   would. A pool of `n_pool` rows is drawn for the queue and `n_eval` other rows for scoring (or the
   eval rows come from `--eval-file`); a text in both is dropped from the pool.
2. Embeddings of pool and eval rows: `ftdemo.assist.embedder` (the bundled MiniLM by default), once per
   data draw, cached on disk (`cache_dir`) so that a rerun embeds nothing.
3. Per seed, one random seed set of `seed_labels` pool rows, the same for every strategy. Then the
   simulated annotator labels what the queue ranks first, `step` labels between refits of the instant
   model. Shared with the app: the instant model (`ftdemo.assist.instant.InstantModel`, refit by the
   assist service whenever labels change), the ranking (`ftdemo.assist.strategies.rank`, the one
   function the queue orders of `services/queue.py` reach through `AssistService.ranked_ids`), its
   inputs (pool embeddings, the instant model's probabilities, the labelled embeddings, the label
   counts) and how long a ranking is asked for (`ranking_k`, the service's constants). Not the app's:
   no database, leases or debounce timers; the next `step` examples are taken from one ranking (the
   service, too, hands out a cached ranking until it is recomputed) and the rank seed changes per refit.
   With `--retrain-every N`, as the app's FTDEMO_RETRAIN_EVERY: every N labels a fine-tune, and from then
   on the embeddings are that model's (the app embeds with the active version; here every retrain goes
   live, as the guard lets a version trained on more labels do unless it is clearly worse).
4. At each budget, the instant model (fitted on exactly the labels so far) is scored on the eval rows;
   at the fine-tune budgets, for `finetune_strategies`, the engine fine-tunes the base model with
   TrainConfig's defaults (`ftdemo.training.train`, as `bench train` does; no test split, since the
   eval rows are the test) and is scored on the same rows.

Curves, areas and labels-to-match are computed by `ftdemo.benchmarks.learning_curves`.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftdemo.benchmarks import learning_curves as lc
from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training.splits import targets

DEFAULT_BUDGETS = (50, 100, 200, 500, 1000)
DEFAULT_FINETUNE_BUDGETS = (600, 1000)
STRATEGIES = ("random", "uncertain", "diverse", "default")
# The targets compare the default with random sampling; fine-tunes cost minutes each on a CPU, so only
# those two are fine-tuned unless asked.
DEFAULT_FINETUNE_STRATEGIES = ("random", "default")
DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "ftdemo-bench-embeddings"


@dataclass(frozen=True)
class BenchData:
    """The rows of one benchmark: the pool the queue ranks, and the held-out rows everything is scored on."""

    pool: list[LabelledText]
    eval: list[LabelledText]
    labels: list[str]
    task: TaskType
    source: str


# --- data -------------------------------------------------------------------------------------------

def read_examples(path: str | Path, task: TaskType | str) -> tuple[list[LabelledText], list[str]]:
    """The labelled rows of a file, read and checked as the app's import reads them.

    Columns are guessed (`io.guess_mapping`); when the first line names no label column, the file is
    read again as one without a header line (text[, pair], label), as AG News' TSV is."""
    from ftdemo import io

    kind = TaskType.parse(task)
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"benchmark data file {path} does not exist")
    table = io.read_rows(path, max_bytes=None)
    mapping = io.guess_mapping(table.columns, kind)
    if mapping.label is None and table.format in ("csv", "tsv"):
        table = io.read_rows(path, max_bytes=None, header=False)
        mapping = io.guess_mapping(table.columns, kind)
    if mapping.label is None:
        raise InvalidInputError(f"{path.name} needs a label column (e.g. 'label'); columns: {', '.join(table.columns)}")
    plan = io.plan_import(table, kind, None, mapping, max_text_chars=10**9)
    rows = [c for c in plan.valid if c.labels]
    labels = sorted({lab for c in rows for lab in c.labels})
    if len(labels) < 2:
        raise InvalidInputError(f"{path.name} has {len(labels)} distinct label(s); a classifier needs at least 2")
    return [LabelledText(i, c.text, c.text_pair, tuple(c.labels)) for i, c in enumerate(rows)], labels


def draw_data(data: str | Path, eval_file: str | Path | None, *, task: TaskType | str = "single_label",
              n_pool: int = 20000, n_eval: int = 2000, seed: int = 0) -> BenchData:
    """A seeded draw of pool and eval rows (see the module docstring); ids are positions in the pool/eval lists."""
    kind = TaskType.parse(task)
    rows, labels = read_examples(data, kind)
    rng = random.Random(seed)
    if eval_file:
        rows, held, labels = held_out_file(rows, labels, eval_file, kind, n_eval, rng)
        pool = rng.sample(rows, min(n_pool, len(rows)))
    else:
        if len(rows) < n_eval + 2:
            raise InvalidInputError(f"{Path(data).name} has {len(rows)} labelled rows; "
                                    f"need more than the {n_eval} held out for scoring")
        picked = rng.sample(rows, min(len(rows), n_pool + n_eval))
        held, pool = picked[:n_eval], picked[n_eval:]
    source = Path(data).name + (f" (eval: {Path(eval_file).name})" if eval_file else "")
    return BenchData(_renumbered(pool), _renumbered(held), labels, kind, source)


def held_out_file(rows: list[LabelledText], labels: list[str], eval_file: str | Path, kind: TaskType, n_eval: int,
                  rng: random.Random) -> tuple[list[LabelledText], list[LabelledText], list[str]]:
    """Scoring rows drawn from `eval_file` (at most `n_eval`): (rows without any text also held out, the held-out
    rows, the labels of both files)."""
    held, held_labels = read_examples(eval_file, kind)
    held = rng.sample(held, min(n_eval, len(held)))
    seen = {(ex.text, ex.text_pair) for ex in held}
    return ([ex for ex in rows if (ex.text, ex.text_pair) not in seen], held,
            sorted(set(labels) | set(held_labels)))


def _renumbered(rows: Sequence[LabelledText]) -> list[LabelledText]:
    return [LabelledText(i, ex.text, ex.text_pair, ex.labels) for i, ex in enumerate(rows)]


# --- embeddings -------------------------------------------------------------------------------------

def embed_rows(encoder: Any, model: str, rows: Sequence[LabelledText], cache_dir: Path | None) -> tuple[np.ndarray, float | None]:
    """Embeddings of `rows` and the texts/s it took (None when they came from the cache).

    The cache file is named by a hash of the model and every text, so another draw or model never
    reuses it."""
    from ftdemo.assist.embedder import embed

    digest = hashlib.sha256(str(model).encode())
    for ex in rows:
        digest.update(b"\x1e" + ex.text.encode() + b"\x1f" + (ex.text_pair or "").encode())
    path = cache_dir / f"{digest.hexdigest()[:32]}.npy" if cache_dir else None
    if path is not None and path.is_file():
        return np.load(path), None
    pairs = [ex.text_pair for ex in rows] if any(ex.text_pair for ex in rows) else None
    t0 = time.perf_counter()
    X = embed(encoder, [ex.text for ex in rows], pairs)
    rate = len(rows) / max(time.perf_counter() - t0, 1e-9)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, X)
        tmp.replace(path)  # atomic: a concurrent run never reads half a file
    return X, rate


# --- the simulated annotator ------------------------------------------------------------------------

def seed_set(n_pool: int, size: int, seed: int) -> list[int]:
    """The pool rows labelled before any strategy chooses: one random draw per seed, shared by all strategies."""
    return random.Random(f"seed-labels-{seed}").sample(range(n_pool), min(size, n_pool))


def instant_accuracy(model: Any, X: np.ndarray, gold: Sequence[tuple[str, ...]]) -> float:
    """Share of rows whose predicted label set is exactly the gold one."""
    predicted = model.predict_labels(X)
    return sum(tuple(sorted(p)) == tuple(sorted(g)) for p, g in zip(predicted, gold)) / max(1, len(gold))


Reembed = Callable[[list[int]], tuple[np.ndarray, np.ndarray]]


def simulate(strategy: str, *, X_pool: np.ndarray, Y_pool: np.ndarray, X_eval: np.ndarray,
             gold_eval: Sequence[tuple[str, ...]], labels: Sequence[str], task: TaskType, start: Sequence[int],
             budgets: Sequence[int], step: int, seed: int, policy: Any = None, step_share: float = 0.0,
             retrain_every: int = 0, retrain: Reembed | None = None) -> tuple[list[dict[str, Any]], list[int]]:
    """Label pool rows in the order `strategy` ranks them, from the `start` rows up to the largest budget.

    Between refits it takes `step` rows, or `step_share` of the labels so far when that is more (a
    batch of 10 matters at 50 labels, hardly at 900, and each refit costs the same).

    retrain_every, retrain: the app's "fine-tune every N new labels". Each time the labels reach a multiple
    of N (and more are to be taken), `retrain(labelled rows)` fine-tunes on them and returns the pool's and
    the eval rows' embeddings by that model, which everything after uses, as the app embeds with the
    active version; a batch never runs past a retrain. The score at N itself is the one before it (the
    app's new version arrives minutes after the Nth label).

    policy: a `strategies.DefaultPolicy` for the default order (None: the app's own). Returns the instant
    model's curve (one point per budget) and the pool rows in the order they were labelled (its first b
    entries are the labels at budget b)."""
    from ftdemo.assist.instant import InstantModel
    from ftdemo.assist.strategies import rank

    order = list(start)
    labelled = np.zeros(len(X_pool), dtype=bool)
    labelled[order] = True
    checkpoints = sorted(b for b in set(budgets) if b >= len(order))
    curve: list[dict[str, Any]] = []
    every = retrain_every if retrain is not None and retrain_every > 0 else 0
    next_retrain = (len(order) // every + 1) * every if every else None
    for budget in checkpoints:
        while len(order) < budget:
            if next_retrain is not None and len(order) >= next_retrain:
                X_pool, X_eval = retrain(list(order))
                next_retrain += every
            model = InstantModel.fit(X_pool[order], Y_pool[order], task=task, labels=labels, seed=seed)
            unlabelled = np.flatnonzero(~labelled)
            if not len(unlabelled):
                break
            take = min(max(step, int(step_share * len(order))), budget - len(order), len(unlabelled))
            if next_retrain is not None:
                take = min(take, next_retrain - len(order))
            ranked = rank(strategy, X_pool=X_pool[unlabelled], probs_pool=model.predict_proba(X_pool[unlabelled]),
                          X_labelled=X_pool[order], label_counts=label_counts(Y_pool[order], labels, task),
                          task=task, k=ranking_k(strategy, len(order)), seed=seed * 1_000_003 + len(order),
                          **({"policy": policy} if policy else {}))
            chosen = unlabelled[np.asarray(ranked[:take], dtype=np.int64)]
            labelled[chosen] = True
            order.extend(int(i) for i in chosen)
        model = InstantModel.fit(X_pool[order], Y_pool[order], task=task, labels=labels, seed=seed)
        curve.append({"labels": len(order), "instant_accuracy": instant_accuracy(model, X_eval, gold_eval),
                      "finetune_accuracy": None})
    return curve, order


def ranking_k(strategy: str, n_labelled: int) -> int:
    """How long a ranking the assist service asks `strategies.rank` for, with an instant model: the service's
    own rule (`services.assist.ranking_length`), so the simulation ranks as the app does."""
    from ftdemo.services.assist import ranking_length

    return ranking_length(strategy, n_labelled)


def label_counts(Y: np.ndarray, labels: Sequence[str], task: TaskType) -> dict[str, int]:
    """How many of the labelled rows carry each label (what the queue's default reads to know when
    every label has a few examples)."""
    counts = Y.sum(axis=0) if task.is_multi_label else np.bincount(Y, minlength=len(labels))
    return {lab: int(n) for lab, n in zip(labels, counts)}


# --- fine-tunes -------------------------------------------------------------------------------------

def finetune_accuracy(rows: Sequence[LabelledText], labels: Sequence[str], task: TaskType, *, base_model: str,
                      seed: int, eval_rows: Sequence[LabelledText], num_threads: int = 0) -> dict[str, Any]:
    """Fine-tune with TrainConfig's defaults on `rows` and score on `eval_rows`: accuracy and seconds."""
    return finetune(rows, labels, task, base_model=base_model, seed=seed, eval_rows=eval_rows,
                    num_threads=num_threads)[0]


def finetune(rows: Sequence[LabelledText], labels: Sequence[str], task: TaskType, *, base_model: str, seed: int,
             eval_rows: Sequence[LabelledText], num_threads: int = 0) -> tuple[dict[str, Any], Any]:
    """`finetune_accuracy`'s figures, and the TrainResult itself."""
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.loop import train

    cfg = TrainConfig(base_model=base_model, seed=seed, test_fraction=0.0, num_threads=num_threads)
    t0 = time.perf_counter()
    result = train(rows, list(labels), task, cfg)
    train_s = time.perf_counter() - t0
    return {"accuracy": model_accuracy(result, eval_rows), "train_s": train_s, "epochs": len(result.history)}, result


def embed_with(result: Any, *row_sets: Sequence[LabelledText]) -> list[np.ndarray]:
    """Embeddings of each set of rows by a fine-tuned model's body, loaded from its saved directory as the app
    loads an active version for its embeddings."""
    from ftdemo.assist.embedder import load_encoder

    with tempfile.TemporaryDirectory(prefix="ftdemo-retrain-") as folder:
        result.model.save_pretrained(folder)
        result.tokenizer.save_pretrained(folder)
        encoder = load_encoder(folder, "cpu")
        return [embed_rows(encoder, folder, rows, None)[0] for rows in row_sets]  # no cache: a model of one run


def retrainer(bench: BenchData, *, base_model: str, seed: int, num_threads: int, record: dict[int, dict[str, Any]],
              progress: Callable[[str], None]) -> Reembed:
    """The `retrain` of `simulate`: fine-tune on the labelled pool rows with TrainConfig's defaults (as the app's
    retrain does), embed pool and eval rows with the result; its figures go into `record` by label count."""
    def retrain(order: list[int]) -> tuple[np.ndarray, np.ndarray]:
        figures, result = finetune([bench.pool[i] for i in order], bench.labels, bench.task, base_model=base_model,
                                   seed=seed, eval_rows=bench.eval, num_threads=num_threads)
        t0 = time.perf_counter()
        X_pool, X_eval = embed_with(result, bench.pool, bench.eval)
        record[len(order)] = {**figures, "embed_s": time.perf_counter() - t0}
        progress(f"  retrained at {len(order)} labels: {figures['accuracy']:.4f} ({figures['train_s']:.0f} s), "
                 f"embedded with it in {record[len(order)]['embed_s']:.0f} s")
        return X_pool, X_eval

    return retrain


def model_accuracy(result: Any, rows: Sequence[LabelledText]) -> float:
    """Exact-match accuracy of a TrainResult's model on `rows` (multi-label: its tuned thresholds)."""
    labels = list(result.labels)
    probs = model_probabilities(result, rows)
    if result.task.is_multi_label:
        thresholds = np.array([(result.thresholds or {}).get(lab, 0.5) for lab in labels])
        got = [{labels[j] for j in np.flatnonzero(row >= thresholds)} for row in probs]
    else:
        got = [{labels[int(row.argmax())]} for row in probs]
    return sum(g == set(ex.labels) for g, ex in zip(got, rows)) / max(1, len(rows))


def model_probabilities(result: Any, rows: Sequence[LabelledText], batch_size: int = 128) -> np.ndarray:
    """A TrainResult's probabilities (n, L) for `rows`, in its label order: softmax, or per-label sigmoids for
    multi-label. Rows are batched by length (short ones together), the answer is in the rows' order."""
    import torch

    model, tokenizer = result.model, result.tokenizer
    model.eval()
    device = next(model.parameters()).device
    out = np.zeros((len(rows), len(result.labels)))
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].text) + len(rows[i].text_pair or ""))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            part = [rows[i] for i in idx]
            pairs = [ex.text_pair or "" for ex in part] if result.task.has_pair else None
            enc = tokenizer([ex.text for ex in part], pairs, padding=True, truncation=True,
                            max_length=result.config.max_length, return_tensors="pt").to(device)
            logits = model(**enc).logits.float()
            probs = torch.sigmoid(logits) if result.task.is_multi_label else torch.softmax(logits, dim=-1)
            out[idx] = probs.cpu().numpy()
    return out


# --- the benchmark ----------------------------------------------------------------------------------

TARGET_FINETUNE_LABELS, TARGET_GAIN_AT, TARGET_GAIN = 600, 100, 0.02  # the "must hold"


def run_label_efficiency_bench(
        data: str | Path, eval_file: str | Path | None = None, *, task: str = "single_label",
        budgets: Sequence[int] = DEFAULT_BUDGETS, strategies: Sequence[str] = STRATEGIES, seeds: int = 3,
        seed: int = 0, finetune_budgets: Sequence[int] = DEFAULT_FINETUNE_BUDGETS,
        finetune_strategies: Sequence[str] = DEFAULT_FINETUNE_STRATEGIES, n_pool: int = 20000, n_eval: int = 2000,
        seed_labels: int = 10, step: int = 10, step_share: float = 0.05, retrain_every: int = 0,
        base_model: str | None = None,
        cache_dir: Path | None = DEFAULT_CACHE_DIR, num_threads: int = 0, speed: bool = True,
        policy: dict[str, Any] | None = None, speed_pool: int = 50_000, speed_texts: int = 2000,
        plot: str | Path | None = None, print_fn: Callable[[str], None] = print,
        progress: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """Run the simulation for every strategy and seed (seeds seed, seed+1, ...); print and return the numbers.

    The returned dict holds `curves` ({strategy: [{labels, instant_accuracy, finetune_accuracy, and their
    `_se`}]}: means over seeds), `auc`, `labels_to_match_random` (instant model) and the same with a
    `_finetune` suffix, `targets` (the issue's three checks, default against random), `per_seed` (every
    seed's own curve and seed labels, and with retrain_every its retrains), `default_policy`, `speed` and
    `timings`. `progress` gets a line per finished run. policy: DefaultPolicy fields to try instead of the
    app's (tuning the default order). retrain_every: simulate the app's "fine-tune every N new labels"
    (0: off; see `simulate`); a fine-tune budget at a retrain point reuses that retrain's fine-tune."""
    from dataclasses import asdict, replace

    from ftdemo.assist.strategies import DEFAULT_POLICY
    from ftdemo.benchmarks import label_efficiency_report as report
    from ftdemo.settings import bundled_model_path

    budgets, finetune_budgets = sorted(set(budgets)), sorted(set(finetune_budgets))
    _check_options(strategies, finetune_strategies, budgets, finetune_budgets, seeds, seed_labels, step)
    if retrain_every < 0:
        raise InvalidInputError("--retrain-every is a number of labels (0: no retraining)")
    try:
        chosen_policy = replace(DEFAULT_POLICY, **(policy or {}))
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"bad default policy {policy}: {err}") from None
    model = base_model or bundled_model_path()
    t_start = time.perf_counter()
    bench = draw_data(data, eval_file, task=task, n_pool=n_pool, n_eval=n_eval, seed=seed)
    points = sorted(set(budgets) | set(finetune_budgets))
    if points[-1] > len(bench.pool):
        raise InvalidInputError(f"the pool has {len(bench.pool)} rows, fewer than the largest budget {points[-1]}; "
                                "lower the budgets or give more rows (--n-pool)")

    # embeddings: pool and eval rows, once (cached across runs)
    from ftdemo.assist.embedder import load_encoder

    t0 = time.perf_counter()
    encoder = load_encoder(model, "cpu")
    X_pool, pool_rate = embed_rows(encoder, model, bench.pool, cache_dir)
    X_eval, _ = embed_rows(encoder, model, bench.eval, cache_dir)
    embed_s = time.perf_counter() - t0
    progress(f"embedded {len(bench.pool)} pool + {len(bench.eval)} eval rows in {embed_s:.1f} s"
             + (" (from the cache)" if pool_rate is None else f" ({pool_rate:.0f} texts/s)"))
    Y_pool = targets(bench.pool, bench.labels, bench.task)
    gold_eval = [ex.labels for ex in bench.eval]

    # the simulated annotator: every strategy from the same seed labels, per seed
    t0 = time.perf_counter()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in strategies}
    orders: dict[tuple[str, int], list[int]] = {}
    for s in range(seed, seed + seeds):
        start = seed_set(len(bench.pool), seed_labels, s)
        for name in strategies:
            retrains: dict[int, dict[str, Any]] = {}
            retrain = retrainer(bench, base_model=model, seed=s, num_threads=num_threads, record=retrains,
                                progress=progress) if retrain_every else None
            curve, order = simulate(name, X_pool=X_pool, Y_pool=Y_pool, X_eval=X_eval, gold_eval=gold_eval,
                                    labels=bench.labels, task=bench.task, start=start, budgets=points, step=step, seed=s,
                                    policy=chosen_policy, step_share=step_share, retrain_every=retrain_every,
                                    retrain=retrain)
            runs[name].append({"seed": s, "seed_labels": start, "curve": curve, "finetunes": {},
                               **({"retrains": {str(n): r for n, r in retrains.items()}} if retrain_every else {})})
            orders[(name, s)] = order
            progress(f"seed {s} {name:<10} instant: " + "  ".join(
                f"{p['labels']}:{p['instant_accuracy']:.3f}" for p in curve))
    simulate_s = time.perf_counter() - t0

    # fine-tunes at their budgets, on the labels each strategy chose; seed by seed, so that a run cut
    # short has every strategy's fine-tunes of its first seeds (in the progress lines)
    t0 = time.perf_counter()
    for nth in range(seeds):
        for name in (n for n in strategies if n in finetune_strategies):
            run = runs[name][nth]
            for point in run["curve"]:
                if point["labels"] not in finetune_budgets:
                    continue
                rows = [bench.pool[i] for i in orders[(name, run["seed"])][:point["labels"]]]
                same = run.get("retrains", {}).get(str(point["labels"]))  # the same rows, settings and seed
                ft = {**same, "reused_retrain": True} if same else finetune_accuracy(
                    rows, bench.labels, bench.task, base_model=model, seed=run["seed"], eval_rows=bench.eval,
                    num_threads=num_threads)
                point["finetune_accuracy"] = ft["accuracy"]
                run["finetunes"][str(point["labels"])] = ft
                progress(f"seed {run['seed']} {name:<10} fine-tune at {point['labels']}: {ft['accuracy']:.4f} "
                         f"({ft['train_s']:.0f} s, {ft['epochs']} epochs)")
    finetune_s = time.perf_counter() - t0

    curves = {name: lc.mean_curve([run["curve"] for run in runs[name]]) for name in strategies}
    out: dict[str, Any] = {
        "data": bench.source, "task": bench.task.value, "labels": bench.labels, "n_pool": len(bench.pool),
        "n_eval": len(bench.eval), "seeds": list(range(seed, seed + seeds)), "seed_labels": seed_labels,
        "step": step, "step_share": step_share, "retrain_every": retrain_every, "budgets": points, "finetune_budgets": finetune_budgets, "strategies": list(strategies),
        "finetune_strategies": [n for n in strategies if n in finetune_strategies], "base_model": model,
        "default_policy": asdict(chosen_policy),
        "curves": curves, **lc.summarise(curves)}
    out["targets"] = check_targets(out)
    out["per_seed"] = runs
    out["speed"] = speed_figures(encoder, bench, pool=speed_pool, n_texts=speed_texts) if speed else None
    out["timings"] = {"embed_s": embed_s, "simulate_s": simulate_s, "finetune_s": finetune_s,
                      "total_s": time.perf_counter() - t_start}
    if plot:
        report.plot(out, plot)
        out["plot"] = str(plot)
    print_fn(report.format_report(out))
    return out


def _check_options(strategies: Sequence[str], finetune_strategies: Sequence[str], budgets: Sequence[int],
                   finetune_budgets: Sequence[int], seeds: int, seed_labels: int, step: int) -> None:
    unknown = [n for n in [*strategies, *finetune_strategies] if n not in STRATEGIES]
    if unknown:
        raise InvalidInputError(f"unknown strategy {unknown[0]!r}; choose from: {', '.join(STRATEGIES)}")
    if lc.REFERENCE not in strategies:
        raise InvalidInputError(f"the strategies must include {lc.REFERENCE!r}: every curve is compared with it")
    if not budgets or seeds < 1 or seed_labels < 1 or step < 1:
        raise InvalidInputError("give at least one budget, and seeds, seed labels and step of at least 1")
    if min([*budgets, *finetune_budgets]) < seed_labels:
        raise InvalidInputError(f"every budget must be at least the {seed_labels} seed labels "
                                f"(smallest given: {min([*budgets, *finetune_budgets])})")


def check_targets(out: dict[str, Any], strategy: str = "default") -> dict[str, Any] | None:
    """The issue's three checks of `strategy` against random sampling, from the mean curves (None if
    either was not run): fine-tuned, it reaches random's accuracy at the largest fine-tune budget with
    at most 600 labels; its instant-model curve has the larger area; at 100 labels its instant model is
    at least 2 points better."""
    if strategy not in out["curves"] or lc.REFERENCE not in out["curves"]:
        return None
    mine, ref = out["curves"][strategy], out["curves"][lc.REFERENCE]
    to_match = out["labels_to_match_random_finetune"].get(strategy)
    a, b = lc.at_budget(mine, TARGET_GAIN_AT, "instant_accuracy"), lc.at_budget(ref, TARGET_GAIN_AT, "instant_accuracy")
    gain = None if a is None or b is None else a - b
    auc_mine, auc_ref = out["auc"][strategy], out["auc"][lc.REFERENCE]
    return {
        "strategy": strategy,
        "finetune_labels_to_match_random": to_match,
        "finetune_match_within_600": None if out["random_target_finetune"] is None or strategy not in
        out["finetune_strategies"] else (to_match is not None and to_match <= TARGET_FINETUNE_LABELS),
        "instant_auc": auc_mine, "random_instant_auc": auc_ref, "instant_auc_larger": auc_mine > auc_ref,
        "instant_gain_at_100": gain, "instant_gain_at_100_met": None if gain is None else gain >= TARGET_GAIN - 1e-12,
    }


def speed_figures(encoder: Any, bench: BenchData, *, pool: int = 50_000, n_texts: int = 2000) -> dict[str, Any]:
    """The assist speed figures (`benchmarks.assist_speed.measure`: embeddings of short texts/s, ranking
    `pool` unlabelled examples per strategy, next example with its suggestion through the services at
    `pool` examples), plus the embedding rate on this benchmark's own pool texts."""
    from ftdemo.assist.embedder import embed
    from ftdemo.benchmarks.assist_speed import measure

    texts = [ex.text for ex in bench.pool[:n_texts]]
    pairs = [ex.text_pair for ex in bench.pool[:n_texts]] if bench.task.has_pair else None
    embed(encoder, texts[:64], pairs[:64] if pairs else None)  # warm-up
    t0 = time.perf_counter()
    embed(encoder, texts, pairs)
    own = len(texts) / (time.perf_counter() - t0)
    out = measure(embed_n=n_texts, pool=pool)
    out.update(embed_texts_per_s_this_data=round(own, 1), embed_texts_this_data=len(texts),
               load_average=round(os.getloadavg()[0], 2))  # other work on the machine slows every figure
    return out
