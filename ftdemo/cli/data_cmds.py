"""Data commands: datasets, import, export, examples, label, stats."""

from __future__ import annotations

import argparse
from typing import Any

from ftdemo.services import Actor


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    ds = sub.add_parser("datasets", parents=[common], help="create, list and edit datasets")
    ds_sub = ds.add_subparsers(dest="datasets_command", required=True, metavar="ACTION")
    p = ds_sub.add_parser("create", parents=[common], help="create a dataset")
    p.add_argument("name")
    p.add_argument("--task", required=True, choices=["single_label", "multi_label", "pair"])
    p.add_argument("--labels", required=True, help="comma-separated label names, e.g. positive,negative")
    p.add_argument("--description", default="")
    p.set_defaults(handler=datasets_create)
    p = ds_sub.add_parser("list", parents=[common], help="list datasets")
    p.set_defaults(handler=datasets_list)
    p = ds_sub.add_parser("labels", parents=[common], help="add, rename or retire labels (history is kept)")
    p.add_argument("name")
    p.add_argument("--add", action="append", default=[], metavar="LABEL")
    p.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    p.add_argument("--retire", action="append", default=[], metavar="LABEL")
    p.set_defaults(handler=datasets_labels)

    p = sub.add_parser("import", parents=[common], help="import a CSV/TSV/JSONL/Parquet file or a datasets directory")
    p.add_argument("name")
    p.add_argument("file")
    p.add_argument("--text-col")
    p.add_argument("--pair-col")
    p.add_argument("--label-col")
    p.add_argument("--strict", action="store_true", help="import nothing if any row has an error")
    p.add_argument("--annotator", default="import", help="who the imported labels are attributed to")
    p.set_defaults(handler=import_file)

    p = sub.add_parser("export", parents=[common], help="export examples, current labels and history (.csv/.jsonl/.parquet or a directory)")
    p.add_argument("name")
    p.add_argument("file")
    p.set_defaults(handler=export_file)

    p = sub.add_parser("examples", parents=[common], help="list examples")
    p.add_argument("name")
    p.add_argument("--unlabelled", action="store_true")
    p.add_argument("--conflicts", action="store_true", help="only examples whose annotators disagree")
    p.add_argument("--label")
    p.add_argument("--search", default="")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--offset", type=int, default=0)
    p.set_defaults(handler=examples)

    p = sub.add_parser("label", parents=[common], help="label one example")
    p.add_argument("name")
    p.add_argument("example_id", type=int)
    p.add_argument("labels", help="LABEL or LABEL,LABEL for multi-label")
    p.add_argument("--annotator", required=True)
    p.set_defaults(handler=label)

    p = sub.add_parser("stats", parents=[common], help="counts per label, annotators, agreement")
    p.add_argument("name")
    p.set_defaults(handler=stats)


def datasets_create(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    info = sv.datasets.create(args.name, args.task, args.labels, actor=Actor.local("cli"), description=args.description)
    return f"created {info.name} ({info.task}; labels: {', '.join(info.labels)})", info.to_dict()


def datasets_list(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    infos = sv.datasets.list()
    lines = [f"{i.name:<24} {i.task:<13} {i.labelled:>6}/{i.examples:<6} labelled  [{', '.join(i.labels)}]" for i in infos]
    return "\n".join(lines) or "no datasets yet: create one with `python -m ftdemo datasets create`", [i.to_dict() for i in infos]


def datasets_labels(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    actor = Actor.local("cli")
    info = sv.datasets.info(args.name)
    for label_name in args.add:
        info = sv.datasets.add_label(args.name, label_name, actor=actor)
    for pair in args.rename:
        old, sep, new = pair.partition("=")
        if not sep:
            from ftdemo.errors import InvalidInputError

            raise InvalidInputError(f"--rename takes OLD=NEW, got {pair!r}")
        info = sv.datasets.rename_label(args.name, old, new, actor=actor)
    for label_name in args.retire:
        info = sv.datasets.retire_label(args.name, label_name, actor=actor)
    return f"{info.name}: labels {', '.join(info.labels)}" + (
        f" (retired: {', '.join(info.retired_labels)})" if info.retired_labels else ""), info.to_dict()


def import_file(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    report = sv.transfer.import_file(args.name, args.file, text_col=args.text_col, pair_col=args.pair_col,
                                     label_col=args.label_col, strict=args.strict, actor=Actor.local(args.annotator))
    lines = [f"imported {report.imported}, duplicates {report.duplicates}, errors {len(report.errors)}"]
    lines += [f"  row {e['row']}: {e['reason']}" for e in report.errors[:20]]
    if len(report.errors) > 20:
        lines.append(f"  … and {len(report.errors) - 20} more (use --json for all)")
    if report.errors and args.strict:
        lines.append("nothing was imported (--strict); fix the rows above or drop --strict to import the valid rows")
    return "\n".join(lines), report.to_dict()


def export_file(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    report = sv.transfer.export(args.name, args.file, actor=Actor.local("cli"))
    return f"exported {report['exported']} examples to {report['path']}", report


def examples(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    if args.conflicts:
        views = sv.annotate.conflicts(args.name, limit=args.limit)
        lines = [f"{v.id:>6}  agreement {v.agreement:.2f}  {v.text[:60]}  <- "
                 + "; ".join(f"{h['annotator']}: {','.join(h['labels']) or h['kind']}" for h in v.history) for v in views]
        return "\n".join(lines) or "no conflicts", [{**v.to_dict(), "agreement": v.agreement, "history": v.history}
                                                    for v in views]
    views, total = sv.annotate.search(args.name, unlabelled=args.unlabelled, label=args.label, text=args.search,
                                      limit=args.limit, offset=args.offset)
    lines = [f"{v.id:>6}  {','.join(v.labels) or '-':<16} {v.text[:70]!s}" + (f"  ||  {v.text_pair[:40]}" if v.text_pair else "")
             for v in views]
    lines.append(f"({len(views)} of {total})")
    return "\n".join(lines), [v.to_dict() for v in views]


def label(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    view = sv.annotate.label(args.name, args.example_id, args.labels, actor=Actor.local(args.annotator))
    return f"example {view.id}: {', '.join(view.labels)}", view.to_dict()


def stats(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    st = sv.datasets.stats(args.name)
    lines = [f"{st.dataset} ({st.task}): {st.labelled}/{st.examples} labelled"]
    lines += [f"  {lab:<20} {n}" for lab, n in st.label_counts.items()]
    if st.multi_annotated:
        lines.append(f"  {st.multi_annotated} examples with ≥2 annotators, {st.conflicts} conflicts, agreement {st.agreement}")
    return "\n".join(lines), st.to_dict()
