"""Train from a JSONL file without the app: the entry point for multi-GPU runs.

    python -m ftdemo.training.launch --data rows.jsonl --task single_label --out models/ --dataset reviews
    accelerate launch --multi_gpu --num_processes 4 -m ftdemo.training.launch --data rows.jsonl ...  # 4 GPUs
    torchrun --nproc_per_node 2 -m ftdemo.training.launch --data rows.jsonl ...  # any launcher; gloo on CPU

Each JSONL row: {"id": 1, "text": "...", "text_pair": null, "labels": ["pos"]} ("label": "pos"
works too; ids default to the line number). Labels default to every label seen, sorted.
Rank 0 saves the version to the registry and prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType, parse_label_list


def read_jsonl(path: str | Path) -> list[LabelledText]:
    """LabelledText rows from a JSONL file; a bad line raises InvalidInputError naming it."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                labels = row["labels"] if "labels" in row else [row["label"]]
                labels = [labels] if isinstance(labels, str) else labels
                out.append(LabelledText(int(row.get("id", n)), str(row["text"]), row.get("text_pair"),
                                        tuple(str(lab) for lab in labels)))
            except (ValueError, KeyError, TypeError) as err:
                raise InvalidInputError(f"{path}, line {n}: expected {{'text': ..., 'labels': [...]}} ({err})") from None
    return out


def main(argv: list[str] | None = None) -> dict:
    from ftdemo.registry import Registry
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.engine import train

    parser = argparse.ArgumentParser(description="fine-tune a classifier on a JSONL file")
    parser.add_argument("--data", required=True)
    parser.add_argument("--task", default="single_label", help="single_label | multi_label | pair")
    parser.add_argument("--labels", default="", help="comma-separated label order (default: sorted labels seen)")
    parser.add_argument("--config", default="{}", help='TrainConfig fields as JSON, e.g. \'{"epochs": 3}\'')
    parser.add_argument("--out", default="", help="registry root to save the version in (rank 0 only)")
    parser.add_argument("--dataset", default="jsonl", help="dataset name inside the registry")
    args = parser.parse_args(argv)

    examples = read_jsonl(args.data)
    labels = parse_label_list(args.labels) if args.labels else sorted({lab for ex in examples for lab in ex.labels})
    result = train(examples, labels, TaskType.parse(args.task), TrainConfig.from_dict(json.loads(args.config)))
    summary = result.summary()
    if result.is_main_process:
        if args.out:
            info = Registry(args.out).save(args.dataset, result)
            summary["saved"] = str(info.path)
        print(json.dumps({k: summary[k] for k in ("metrics", "timings", "device", "best_epoch") if k in summary}
                         | {"saved": summary.get("saved")}, indent=2, default=str))
    return summary


if __name__ == "__main__":
    main()
