"""Agreement commands: `overlap` (how many annotators label each example) and the agreement part of
`stats --agreement` (data_cmds.stats calls `agreement_report`)."""

from __future__ import annotations

import argparse
from typing import Any

from ftdemo.cli.common import shown, whole_number
from ftdemo.services import Actor


def share(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text[:40]!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text[:40]}")
    return value


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("overlap", parents=[common],
                       help="send a share of a dataset's examples to several annotators (for agreement); "
                            "without --share: show the setting")
    p.add_argument("name")
    p.add_argument("--share", type=share, help="share of the examples, 0 to 1 (0: each example to one annotator)")
    p.add_argument("--k", type=whole_number(2, 50), help="annotators per overlap example (default: 2, or as set)")
    p.set_defaults(handler=overlap)


def overlap(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    if args.share is None and args.k is None:
        out = sv.agreement.overlap(args.name)
    else:
        now = sv.agreement.overlap(args.name)
        out = sv.agreement.set_overlap(args.name, now.share if args.share is None else args.share,
                                       now.k if args.k is None else args.k, actor=Actor.local("cli"))
    return f"{shown(out.dataset)}: {out.message}", out.to_dict()


def _value(est: dict[str, Any], key: str = "value") -> str:
    if est.get(key) is None:
        return "undefined"
    interval = f" [{est['low']:.3f}, {est['high']:.3f}]" if est.get("low") is not None else ""
    return f"{est[key]:.3f}{interval} on {est['items']} items"


def agreement_report(sv: Any, name: str) -> tuple[list[str], dict[str, Any]]:
    """The lines and JSON keys `stats --agreement` adds: cohen_kappa (per pair), fleiss_kappa,
    krippendorff_alpha, overlap_items, per_label, interval, annotator_names and the overlap setting."""
    result = sv.agreement.agreement(name).to_dict()
    result["overlap"] = sv.agreement.overlap(name).to_dict()
    level = f"{result['interval']['level']:.0%}"
    lines = [f"agreement over {result['overlap_items']} examples labelled by 2 or more annotators "
             f"({level} bootstrap intervals):",
             f"  Krippendorff's alpha  {_value(result['krippendorff_alpha'])}",
             f"  Fleiss' kappa         {_value(result['fleiss_kappa'])}"
             + (f" ({result['fleiss_kappa']['raters']} annotators each)" if result["fleiss_kappa"]["raters"] else "")]
    lines += [f"  Cohen's kappa {shown(p['a'])} / {shown(p['b'])}: {_value(p, 'kappa')}" for p in result["cohen_kappa"]]
    lines += [f"  label {shown(lab)}: alpha {_value(v['krippendorff_alpha'])}" for lab, v in result["per_label"].items()]
    return lines, result
