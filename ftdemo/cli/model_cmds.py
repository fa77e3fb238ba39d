"""Prediction and benchmark commands: predict, bench train, bench serve, bench store, bench label-efficiency,
bench label-noise, bench unlabelled, bench selection."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ftdemo.cli.common import option_range, whole_number
from ftdemo.explain.methods import METHODS, NAMES

LAYERS = whole_number(-1000, 1000)  # the model says how many it has; this only keeps the number sane
BUDGET = whole_number(1, 10_000_000)


def number_list(text: str) -> list[int]:
    """An argparse type: comma-separated label counts ("50,100,200"); "" is an empty list."""
    return [BUDGET(part.strip()) for part in text.split(",") if part.strip()]


def policy_fields(text: str) -> dict[str, object]:
    """An argparse type: "min_per_label=3,explore=0.3,measure=entropy" (numbers as numbers)."""
    out: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {part[:40]!r}")
        for kind in (int, float):
            try:
                out[key.strip()] = kind(value)
                break
            except ValueError:
                continue
        else:
            out[key.strip()] = value.strip()
    return out


def name_list(text: str) -> list[str]:
    """An argparse type: comma-separated names ("random,default"), in order, without repeats."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("predict", parents=[common], help="classify a text with a dataset's active model")
    p.add_argument("name")
    p.add_argument("text")
    p.add_argument("--pair", help="second text (sentence-pair datasets)")
    p.add_argument("--version", help="a model version other than the active one")
    p.add_argument("--explain", choices=NAMES, metavar="METHOD",
                   help="also explain the prediction: " + "; ".join(f"{m.name}: {m.summary}" for m in METHODS))
    p.add_argument("--label", help="explain this label instead of the predicted one")
    p.add_argument("--layer", type=LAYERS, default=-1)
    p.add_argument("--head", type=whole_number(0, 1000), help="one attention head (default: mean over heads)")
    p.add_argument("--ig-steps", type=whole_number(1, 1024), default=32)
    p.set_defaults(handler=predict)

    b = sub.add_parser("bench", help="benchmarks (print ratios against reference implementations)")
    b_sub = b.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    p = b_sub.add_parser("train", parents=[common], help="engine vs Hugging Face Trainer: examples/s, MFU, accuracy")
    p.add_argument("--data", help="TSV/CSV with sentence|text and label (default ../shared/data/sst2_train.tsv)")
    p.add_argument("--n-train", type=whole_number(1, 10_000_000), default=1000)
    p.add_argument("--n-eval", type=whole_number(1, 10_000_000), default=2000)
    p.add_argument("--epochs", type=option_range("epochs"), default=0,
                   help="0 (default): the engine's automatic choice; the Trainer runs as many as it planned")
    p.add_argument("--batch-size", type=option_range("batch_size"), help="the engine's (default: its own default)")
    p.add_argument("--lr", type=float, help="the engine's learning rate (default: its own default)")
    p.add_argument("--model", help="base model (default: bundled MiniLM)")
    p.add_argument("--seed", type=option_range("seed"), default=0)
    p.add_argument("--repeats", type=whole_number(1, 100), default=1,
                   help="alternate engine/Trainer runs, keep the best of each")
    p.add_argument("--samples", type=whole_number(1, 100), default=1,
                   help="independent draws of rows (seeds SEED, SEED+1, ...); accuracy is compared on their mean")
    p.add_argument("--threads", type=option_range("num_threads"), default=0,
                   help="torch CPU threads for both (0 = all cores)")
    p.add_argument("--reference-args", choices=("defaults", "same"), default="defaults",
                   help="the Trainer's batch size and lr: its own defaults, or the engine's")
    p.add_argument("--no-reference", action="store_true", help="skip the Trainer run")
    p.set_defaults(handler=bench_train, needs_services=False)
    p = b_sub.add_parser("click", parents=[common],
                         help="Train now to active version on a fresh dataset: the wait, the engine's part, the app's")
    p.add_argument("--labels", type=whole_number(20, 10_000_000), default=5000, help="labelled rows (default 5000)")
    p.add_argument("--data", help="TSV/CSV with sentence (or text) and label (default ../shared/data/sst2_train.tsv "
                                  "when present, else synthetic reviews; 'synthetic' for those)")
    p.add_argument("--model", help="base model (default: bundled MiniLM)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where the run trains")
    p.set_defaults(handler=bench_click, needs_services=False)
    p = b_sub.add_parser("serve", parents=[common], help="latency/throughput: fast path, explain path, pipeline")
    p.add_argument("--model-dir", help="a saved classifier (default: bundled MiniLM with a new 2-label head)")
    p.add_argument("--iterations", type=whole_number(1, 1_000_000), default=100)
    p.set_defaults(handler=bench_serve, needs_services=False)
    p = b_sub.add_parser("store", parents=[common],
                         help="the store at scale: import/export rows/s and memory, stats/next/label latency, "
                              "labellers during an import")
    p.add_argument("--examples", type=whole_number(100, 100_000_000), default=1_000_000)
    p.add_argument("--samples", type=whole_number(5, 10_000), default=50, help="timed calls per measure")
    p.add_argument("--labellers", type=whole_number(1, 64), default=5)
    p.add_argument("--seed", type=whole_number(0, 2**31 - 1), default=0)
    p.set_defaults(handler=bench_store, needs_services=False)
    p = b_sub.add_parser("label-efficiency", parents=[common],
                         help="labels each queue order needs: a simulated annotator, instant and fine-tuned models")
    p.add_argument("--data", required=True, help="labelled CSV/TSV/JSONL (text, label; a header line is optional)")
    p.add_argument("--eval-file", help="held-out rows to score on (default: rows of --data never in the pool)")
    p.add_argument("--task", choices=("single_label", "multi_label", "pair"), default="single_label")
    p.add_argument("--budgets", type=number_list, default="50,100,200,500,1000",
                   help="label counts at which the instant model is scored")
    p.add_argument("--strategies", type=name_list, default="random,uncertain,diverse,default",
                   help="queue orders to compare (random is the reference)")
    p.add_argument("--seeds", type=whole_number(1, 100), default=3, help="seeds SEED, SEED+1, ...: mean ± SE over them")
    p.add_argument("--seed", type=whole_number(0, 2**31 - 1), default=0, help="first seed; also draws pool and eval rows")
    p.add_argument("--finetune-budgets", type=number_list, default="600,1000",
                   help="label counts at which a fine-tune is scored ('' for none)")
    p.add_argument("--finetune-strategies", type=name_list, default="random,default",
                   help="strategies fine-tuned at those budgets (each fine-tune takes minutes on a CPU)")
    p.add_argument("--n-pool", type=whole_number(10, 10_000_000), default=20000, help="rows the queue ranks")
    p.add_argument("--n-eval", type=whole_number(10, 10_000_000), default=2000, help="held-out rows scored")
    p.add_argument("--seed-labels", type=whole_number(1, 100_000), default=10,
                   help="random labels every strategy starts from")
    p.add_argument("--step", type=whole_number(1, 10_000), default=10, help="labels taken between refits, at least")
    p.add_argument("--step-share", type=float, default=0.05,
                   help="or this share of the labels so far, when more (0.05: 10 at 200, 40 at 800)")
    p.add_argument("--retrain-every", type=whole_number(0, 10_000_000), default=0,
                   help="fine-tune every N labels and embed with that model from then on, as the app's "
                        "FTDEMO_RETRAIN_EVERY does (0: off; each retrain costs a fine-tune and an embedding pass)")
    p.add_argument("--model", help="encoder and fine-tune base (default: bundled MiniLM)")
    p.add_argument("--cache-dir", help="embedding cache (default: ftdemo-bench-embeddings in the temp folder)")
    p.add_argument("--threads", type=option_range("num_threads"), default=0, help="torch CPU threads for fine-tunes")
    p.add_argument("--no-speed", action="store_true", help="skip the embedding, ranking and next-example speed figures")
    p.add_argument("--speed-pool", type=whole_number(100, 10_000_000), default=50_000,
                   help="examples ranked and served for the speed figures")
    p.add_argument("--speed-texts", type=whole_number(64, 1_000_000), default=2000, help="texts embedded for them")
    p.add_argument("--plot", metavar="FILE.png", help="write the learning curves as a PNG")
    p.add_argument("--policy", type=policy_fields, metavar="K=V,...",
                   help="try other knobs of the default order (strategies.DefaultPolicy), e.g. explore=0.3")
    p.set_defaults(handler=bench_label_efficiency, needs_services=False)
    p = b_sub.add_parser("label-noise", parents=[common],
                         help="plant label errors, find them with the suspects list, fix them, retrain")
    p.add_argument("--data", required=True, help="labelled CSV/TSV/JSONL (text, label; a header line is optional)")
    p.add_argument("--eval-file", help="held-out rows to score on (default: rows of --data never drawn)")
    p.add_argument("--task", choices=("single_label", "multi_label", "pair"), default="single_label")
    p.add_argument("--rows", type=whole_number(20, 10_000_000), default=2000, help="labelled rows drawn per seed")
    p.add_argument("--noise", type=float, default=0.05, help="share of those rows given a wrong label")
    p.add_argument("--seeds", type=whole_number(1, 100), default=3, help="seeds SEED, SEED+1, ...: mean ± SE over them")
    p.add_argument("--seed", type=whole_number(0, 2**31 - 1), default=0, help="first seed")
    p.add_argument("--n-eval", type=whole_number(10, 10_000_000), default=2000, help="held-out rows scored")
    p.add_argument("--oof", default="instant,words",
                   help="the out-of-fold models averaged for the suspects, a comma list of instant, words, finetune "
                        "(default instant,words: the app's list before a fine-tune check; finetune: --folds "
                        "fine-tunes per seed)")
    p.add_argument("--folds", type=whole_number(2, 20), default=5)
    p.add_argument("--retrain", choices=("instant", "finetune"), default="instant",
                   help="the model trained on the noisy and the fixed labels (finetune: minutes per run on a CPU)")
    p.add_argument("--model", help="encoder and fine-tune base (default: bundled MiniLM)")
    p.add_argument("--cache-dir", help="embedding cache (default: ftdemo-bench-embeddings in the temp folder)")
    p.add_argument("--threads", type=option_range("num_threads"), default=0, help="torch CPU threads for fine-tunes")
    p.set_defaults(handler=bench_label_noise, needs_services=False)
    p = b_sub.add_parser("unlabelled", parents=[common],
                         help="what adaptation and self-training on unlabelled texts add to a fine-tune on few labels")
    p.add_argument("--data", required=True, help="labelled CSV/TSV/JSONL: N rows keep their labels, the rest lose them")
    p.add_argument("--labels", type=whole_number(2, 10_000_000), default=1000, help="labelled rows per draw")
    p.add_argument("--eval-file", help="held-out rows to score on (default: rows of --data never in the dataset)")
    p.add_argument("--seeds", type=whole_number(1, 100), default=3, help="draws (seeds SEED, SEED+1, ...)")
    p.add_argument("--seed", type=whole_number(0, 2**31 - 1), default=0, help="first seed; also picks the scoring rows")
    p.add_argument("--task", choices=("single_label", "multi_label", "pair"), default="single_label")
    p.add_argument("--n-eval", type=whole_number(10, 10_000_000), default=2000, help="scoring rows")
    p.add_argument("--n-unlabelled", type=whole_number(0, 100_000_000), default=0,
                   help="at most this many unlabelled rows in the pool (0: all the rest)")
    p.add_argument("--adapt-epochs", type=whole_number(1, 50), default=1, help="passes of the adaptation")
    p.add_argument("--adapt-texts", type=whole_number(0, 100_000_000), default=0,
                   help="adapt on at most this many texts (0: all of the dataset's)")
    p.add_argument("--adapt-lr", type=float, help="the adaptation's peak learning rate (default: AdaptConfig's, 1e-4)")
    p.add_argument("--adapt-whole-word-mask", action="store_true", help="adapt with whole-word masking")
    p.add_argument("--self-training-rounds", type=option_range("self_training_rounds"), default=1)
    p.add_argument("--model", help="base model (default: bundled MiniLM)")
    p.add_argument("--threads", type=option_range("num_threads"), default=0, help="torch CPU threads (0: all cores)")
    p.set_defaults(handler=bench_unlabelled, needs_services=False)
    p = b_sub.add_parser("selection", parents=[common],
                         help="activation guard: how often the old and the new rule serve the better of two fine-tunes")
    p.add_argument("--data", required=True, help="labelled CSV/TSV/JSONL (text, label), e.g. ../shared/data/sst2_train.tsv")
    p.add_argument("--labels", type=whole_number(20, 1_000_000), default=300, help="labels per draw")
    p.add_argument("--draws", type=whole_number(1, 1000), default=20, help="independent draws of labels")
    p.add_argument("--eval-rows", type=whole_number(10, 10_000_000), default=2000,
                   help="held-out rows that say which version is better")
    p.add_argument("--seeds", type=whole_number(2, 20), default=2, help="fine-tunes per draw (training seeds)")
    p.add_argument("--grow", type=whole_number(0, 1_000_000), default=0,
                   help="the first version trains on LABELS - GROW of the draw's labels, the others on all of them "
                        "(retraining as labels arrive); 0: all on the same labels")
    p.add_argument("--seed", type=whole_number(0, 2**31 - 1), default=0, help="first training seed; also draws the rows")
    p.add_argument("--margin", type=float, help="the guard's margin (default: FTDEMO_ACTIVATION_MARGIN's default)")
    p.add_argument("--model", help="base model (default: bundled MiniLM)")
    p.add_argument("--threads", type=option_range("num_threads"), default=0, help="torch CPU threads (0 = all cores)")
    p.add_argument("--out", metavar="FILE.json", help="also write the result here after every draw (partial counts)")
    p.set_defaults(handler=bench_selection, needs_services=False)


def predict(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    pred = sv.predict.predict(args.name, args.text, args.pair, version=args.version)
    payload: dict[str, Any] = {"label": pred["label"], "labels": pred["labels"],
                               "probabilities": pred["probabilities"], "model_version": pred["model_version"],
                               "truncated": pred["truncated"], "notice": pred["notice"]}
    lines = [f"{pred['label']}  ({pred['model_version']})"]
    lines += [f"  {lab:<20} {p:.3f}" for lab, p in sorted(pred["probabilities"].items(), key=lambda kv: -kv[1])]
    if pred["notice"]:
        lines.append(f"note: {pred['notice']}")
    if args.explain:
        ex = sv.predict.explain(args.name, args.text, args.pair, method=args.explain, version=args.version,
                                layer=args.layer, head=args.head, target_label=args.label, ig_steps=args.ig_steps)
        payload["explanation"] = {
            "method": ex["method"], "target_label": ex["target_label"], "layer": ex["layer"], "head": ex["head"],
            "words": [{"text": w["text"], "score": w["score"], **({"segment": w["segment"]} if args.pair else {})}
                      for w in ex["words"]],
        }
        if "completeness_error" in ex:
            payload["explanation"]["completeness_error"] = ex["completeness_error"]
        if "matrix" in ex:  # matrix / overview: the word x word or layer x head map
            payload["explanation"]["matrix"] = ex["matrix"]
        lines.append(f"{ex['method']} for {ex['target_label']!r}:")
        lines += [f"  {w['text']:<24} {w['score']:+.4f}" for w in ex["words"]]
        if "completeness_error" in ex:
            lines.append(f"  completeness error {ex['completeness_error']:.2%}")
    return "\n".join(lines), payload


def bench_train(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.benchmarks.train import run_train_bench

    quiet = (lambda _line: None) if args.json else (lambda line: print(line, file=sys.stdout))
    out = run_train_bench(args.data, args.n_train, args.epochs, False, n_eval=args.n_eval, batch_size=args.batch_size,
                          learning_rate=args.lr, base_model=args.model, seed=args.seed,
                          reference=not args.no_reference, repeats=args.repeats, samples=args.samples,
                          num_threads=args.threads, reference_args=args.reference_args, print_fn=quiet)
    return "", out


def bench_store(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.benchmarks.store import run_store_bench

    quiet = (lambda _line: None) if args.json else (lambda line: print(line, file=sys.stdout, flush=True))
    out = run_store_bench(args.examples, db_url=args.db, seed=args.seed, samples=args.samples,
                          labellers=args.labellers, print_fn=quiet)
    return "", out


def bench_label_efficiency(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from pathlib import Path

    from ftdemo.benchmarks.label_efficiency import DEFAULT_CACHE_DIR, run_label_efficiency_bench

    quiet = (lambda _line: None) if args.json else (lambda line: print(line, file=sys.stdout))
    out = run_label_efficiency_bench(
        args.data, args.eval_file, task=args.task, budgets=args.budgets, strategies=args.strategies,
        seeds=args.seeds, seed=args.seed, finetune_budgets=args.finetune_budgets,
        finetune_strategies=args.finetune_strategies, n_pool=args.n_pool, n_eval=args.n_eval,
        seed_labels=args.seed_labels, step=args.step, step_share=args.step_share,
        retrain_every=args.retrain_every, base_model=args.model,
        cache_dir=Path(args.cache_dir) if args.cache_dir else DEFAULT_CACHE_DIR, num_threads=args.threads,
        speed=not args.no_speed, plot=args.plot, policy=args.policy, speed_pool=args.speed_pool,
        speed_texts=args.speed_texts, print_fn=quiet,
        progress=lambda line: print(line, file=sys.stderr, flush=True))
    return "", out


def bench_label_noise(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from pathlib import Path

    from ftdemo.benchmarks.label_efficiency import DEFAULT_CACHE_DIR
    from ftdemo.benchmarks.label_noise import run_label_noise_bench

    quiet = (lambda _line: None) if args.json else (lambda line: print(line, file=sys.stdout))
    out = run_label_noise_bench(
        args.data, args.eval_file, task=args.task, rows=args.rows, noise=args.noise, seeds=args.seeds,
        seed=args.seed, n_eval=args.n_eval, retrain=args.retrain, oof=args.oof, folds=args.folds, base_model=args.model,
        cache_dir=Path(args.cache_dir) if args.cache_dir else DEFAULT_CACHE_DIR, num_threads=args.threads,
        print_fn=quiet, progress=lambda line: print(line, file=sys.stderr, flush=True))
    return "", out


def bench_click(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.benchmarks.click import run_click_bench

    quiet = (lambda _line: None) if args.json else (lambda line: print(line, file=sys.stdout))
    return "", run_click_bench(labels=args.labels, data=args.data, base_model=args.model, device=args.device,
                               print_fn=quiet)


def bench_unlabelled(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.benchmarks.unlabelled import run_unlabelled_bench

    quiet = (lambda _line: None) if args.json else (lambda line: print(line, file=sys.stdout))
    out = run_unlabelled_bench(
        args.data, args.eval_file, task=args.task, labels=args.labels, seeds=args.seeds, seed=args.seed,
        n_eval=args.n_eval, n_unlabelled=args.n_unlabelled, adapt_epochs=args.adapt_epochs,
        adapt_texts=args.adapt_texts, adapt_learning_rate=args.adapt_lr, adapt_whole_word_mask=args.adapt_whole_word_mask,
        self_training_rounds=args.self_training_rounds, base_model=args.model,
        num_threads=args.threads, print_fn=quiet, progress=lambda line: print(line, file=sys.stderr, flush=True))
    return "", out


def bench_selection(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.benchmarks.selection import run_selection_bench

    out = run_selection_bench(args.data, labels=args.labels, draws=args.draws, eval_rows=args.eval_rows,
                              seeds=args.seeds, seed=args.seed, grow=args.grow, margin=args.margin, base_model=args.model,
                              num_threads=args.threads, out=args.out,
                              progress=lambda line: print(line, file=sys.stderr, flush=True))
    grown = f" (the first version on {out['labels'] - out['grow']})" if out.get("grow") else ""
    lines = [f"{out['draws']} draws of {out['labels']} labels{grown}, {out['decisions']} decisions, "
             f"{out['ties']} ties on {out['eval_rows']} held-out rows",
             f"old rule (own validation macro-F1): picks the better version {out['old_rule_picks_better']} times, "
             f"activates {out['old_rule_activations']}",
             f"new rule (paired, {out['score']}): picks the better version {out['new_rule_picks_better']} times, "
             f"activates {out['new_rule_activations']}, of which {out['new_rule_bad_activations']} worse on the "
             "held-out rows by more than its reported interval"]
    return "\n".join(lines), out


def bench_serve(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.benchmarks.serve import run_serve_bench

    quiet = (lambda _line: None) if args.json else (lambda line: print(line, file=sys.stdout))
    out = run_serve_bench(args.model_dir, json_out=False, iterations=args.iterations, print_fn=quiet)
    return "", out
