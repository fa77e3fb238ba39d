"""Serving latency/throughput vs the transformers pipeline: `python bench/serve.py [--json] [--model-dir DIR]`.

The same as `python -m ftdemo bench serve`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from ftdemo.benchmarks.serve import run_serve_bench  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    parser.add_argument("--model-dir", default=None, help="a saved model version (default: bundled MiniLM)")
    parser.add_argument("--iterations", type=int, default=100, help="timed calls per contender and length")
    args = parser.parse_args()
    run_serve_bench(args.model_dir, json_out=args.json, iterations=args.iterations)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
