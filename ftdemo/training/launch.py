"""Train from a labelled file without the app: the entry point for multi-GPU runs.

    python -m ftdemo.training.launch --data rows.jsonl --task single_label --out models/ --dataset reviews
    accelerate launch --multi_gpu --num_processes 4 -m ftdemo.training.launch --data rows.jsonl ...  # 4 GPUs
    torchrun --nproc_per_node 2 -m ftdemo.training.launch --data rows.jsonl ...  # any launcher; gloo on CPU

The file is read exactly as `python -m ftdemo train-file` reads it (`ftdemo.training.from_file`): any
format ftdemo imports, e.g. JSON lines {"id": 1, "text": "...", "labels": ["pos"]}. Rank 0 saves the
version to the registry and prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ftdemo.tasks import parse_label_list
from ftdemo.training.from_file import train_from_file


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="fine-tune a classifier on a labelled file")
    parser.add_argument("--data", required=True, help="CSV, TSV, JSON lines or Parquet file with text and labels")
    parser.add_argument("--task", default="single_label", help="single_label | multi_label | pair")
    parser.add_argument("--labels", default="", help="comma-separated label order (default: sorted labels seen)")
    parser.add_argument("--config", default="{}", help='TrainConfig fields as JSON, e.g. \'{"epochs": 3}\'')
    parser.add_argument("--out", required=True, help="registry root to save the version in (rank 0 only)")
    parser.add_argument("--dataset", default=None, help="dataset name inside the registry (default: the file's stem)")
    parser.add_argument("--text-col")
    parser.add_argument("--pair-col")
    parser.add_argument("--label-col")
    args = parser.parse_args(argv)

    out = train_from_file(args.data, args.out, task=args.task, text_col=args.text_col, pair_col=args.pair_col,
                          label_col=args.label_col, labels=parse_label_list(args.labels) if args.labels else None,
                          dataset=args.dataset, options=json.loads(args.config))
    if out["is_main_process"]:
        print(json.dumps({k: out[k] for k in ("metrics", "timings", "device", "best_epoch")} | {"saved": out["path"]},
                         indent=2, default=str))
    return out


if __name__ == "__main__":
    main()
