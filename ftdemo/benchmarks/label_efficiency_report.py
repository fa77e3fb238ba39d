"""What `bench label-efficiency` prints and plots: learning-curve tables and a two-panel figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftdemo.benchmarks.learning_curves import METRICS

TITLES = {"instant_accuracy": "instant model (linear head on embeddings)",
          "finetune_accuracy": "fine-tuned model (TrainConfig defaults)"}


def _cell(mean: float | None, se: float | None) -> str:
    if mean is None:
        return "–"
    return f"{mean:.4f}" + (f" ± {se:.4f}" if se is not None else "")


def _labels(n: int | None) -> str:
    return "never" if n is None else str(n)


def curve_table(out: dict[str, Any], metric: str) -> list[str]:
    """Rows of budget x strategy (mean ± SE over seeds), then each strategy's area and labels-to-match."""
    names = list(out["curves"])
    suffix = "" if metric == "instant_accuracy" else "_finetune"
    width = 18
    lines = [f"  {'labels':>7}" + "".join(f"{n:>{width}}" for n in names)]
    for i, labels in enumerate(out["budgets"]):
        cells = [out["curves"][n][i] for n in names]
        if all(c[metric] is None for c in cells):
            continue
        lines.append(f"  {labels:>7}" + "".join(f"{_cell(c[metric], c[metric + '_se']):>{width}}" for c in cells))
    auc = out[f"auc{suffix}"]
    lines.append(f"  {'area':>7}" + "".join(f"{_cell(auc[n], None):>{width}}" for n in names))
    target = out[f"random_target{suffix}"]
    if target:
        match = out[f"labels_to_match_random{suffix}"]
        lines.append(f"  labels to reach random's {target['accuracy']:.4f} at {target['labels']}: "
                     + ", ".join(f"{n} {_labels(match[n])}" for n in names
                                 if auc[n] is not None))
    return lines


def format_report(out: dict[str, Any]) -> str:
    """The human-readable report `run_label_efficiency_bench` prints without --json."""
    lines = [
        f"label efficiency: {out['data']} ({out['task']}, {len(out['labels'])} labels), pool {out['n_pool']}, "
        f"{out['n_eval']} held-out rows, seeds {out['seeds'][0]}..{out['seeds'][-1]} (mean ± SE)",
        f"  every strategy starts from the same {out['seed_labels']} random seed labels per seed; "
        f"{out['step']} labels between refits (or {out['step_share']:.0%} of those so far); model {out['base_model']}",
        "  default order: " + ", ".join(f"{k}={v}" for k, v in out["default_policy"].items()),
    ]
    for metric in METRICS:
        if any(p[metric] is not None for curve in out["curves"].values() for p in curve):
            lines += [f"held-out accuracy, {TITLES[metric]}:", *curve_table(out, metric)]
    t = out.get("targets")
    if t:
        lines.append(f"targets ({t['strategy']} against random):")
        if t["finetune_match_within_600"] is not None:
            lines.append(f"  fine-tuned, reaches random's accuracy at {out['random_target_finetune']['labels']} labels "
                         f"with {_labels(t['finetune_labels_to_match_random'])} (≤ 600: "
                         f"{'met' if t['finetune_match_within_600'] else 'missed'})")
        lines.append(f"  instant-model area {t['instant_auc']:.4f} vs {t['random_instant_auc']:.4f} "
                     f"({'met' if t['instant_auc_larger'] else 'missed'})")
        if t["instant_gain_at_100"] is not None:
            lines.append(f"  instant model at 100 labels: {t['instant_gain_at_100'] * 100:+.2f} points "
                         f"(≥ +2: {'met' if t['instant_gain_at_100_met'] else 'missed'})")
    s = out.get("speed")
    if s:
        lines.append(f"speed: embeddings {s['embed_texts_per_s']:.0f} short texts/s ({s['embed_texts_per_s_this_data']:.0f} "
                     f"on this pool's texts); ranking {s['pool']:,} unlabelled: "
                     + ", ".join(f"{name} {ms:.0f} ms" for name, ms in s["rank_50k_ms_by_strategy"].items())
                     + f"; next with suggestion p50 {s['next_with_suggestion_p50_ms']:.1f} ms "
                       f"(p95 {s['next_with_suggestion_p95_ms']:.1f}) at {s['pool']:,} examples"
                     + f" (load average {s['load_average']})")
    tm = out["timings"]
    lines.append(f"time: embeddings {tm['embed_s']:.0f} s, simulation {tm['simulate_s']:.0f} s, "
                 f"fine-tunes {tm['finetune_s']:.0f} s, total {tm['total_s']:.0f} s"
                 + (f"; plot {out['plot']}" if out.get("plot") else ""))
    return "\n".join(lines)


def plot(out: dict[str, Any], path: str | Path) -> None:
    """One panel per model kind: each strategy's mean curve over seeds with a ±1 SE band (log labels axis)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.pyplot as plt

    metrics = [m for m in METRICS if any(p[m] is not None for c in out["curves"].values() for p in c)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.2), squeeze=False)
    colours = {name: f"C{i}" for i, name in enumerate(out["curves"])}  # a strategy keeps its colour in every panel
    for ax, metric in zip(axes[0], metrics):
        for name, curve in out["curves"].items():
            pts = [p for p in curve if p[metric] is not None]
            if not pts:
                continue
            x = [p["labels"] for p in pts]
            y = [p[metric] for p in pts]
            se = [p[f"{metric}_se"] or 0.0 for p in pts]
            ax.plot(x, y, marker="o", label=name, color=colours[name])
            ax.fill_between(x, [a - b for a, b in zip(y, se)], [a + b for a, b in zip(y, se)],
                            color=colours[name], alpha=0.15)
        ax.set_xscale("log")
        ticks = sorted({p["labels"] for c in out["curves"].values() for p in c if p[metric] is not None})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("labels")
        ax.set_ylabel("held-out accuracy")
        ax.set_title(TITLES[metric], fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{out['data']}: mean ± SE over {len(out['seeds'])} seeds", fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
