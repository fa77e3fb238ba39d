"""Data commands: datasets, import, export, examples, label, stats."""

from __future__ import annotations

import argparse
from typing import Any

from ftdemo.cli.common import MAX_INT64, ReportedError, UsageError, shown, whole_number
from ftdemo.services import Actor
from ftdemo.services.datasets import LabelEdit
from ftdemo.services.queue import ORDERS

TEXT_PAGE = 20  # examples shown by the text answer unless --limit says otherwise (--json: all)
MAX_PAGE = 1_000_000


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    ds = sub.add_parser("datasets", parents=[common], help="create, list and edit datasets")
    ds_sub = ds.add_subparsers(dest="datasets_command", required=True, metavar="ACTION")
    p = ds_sub.add_parser("create", parents=[common], help="create a dataset")
    p.add_argument("name")
    p.add_argument("--task", required=True, choices=["single_label", "multi_label", "pair"])
    p.add_argument("--labels", required=True, help="comma-separated label names, e.g. positive,negative")
    p.add_argument("--description", default="")
    p.add_argument("--text-name", default="", help="what the texts are called (default: Text; Premise for pairs)")
    p.add_argument("--pair-name", default="", help="what the second texts of a pair dataset are called "
                                                   "(default: Hypothesis)")
    p.set_defaults(handler=datasets_create)
    p = ds_sub.add_parser("list", parents=[common], help="list datasets")
    p.set_defaults(handler=datasets_list)
    p = ds_sub.add_parser("labels", parents=[common],
                          help="add, rename or retire labels (history is kept); all edits or none, in the order given")
    p.add_argument("name")
    p.add_argument("--add", action=_LabelEditAction, metavar="LABEL")
    p.add_argument("--rename", action=_LabelEditAction, metavar="OLD=NEW")
    p.add_argument("--retire", action=_LabelEditAction, metavar="LABEL")
    p.set_defaults(handler=datasets_labels, label_edits=[])
    p = ds_sub.add_parser("audit", parents=[common],
                          help="the audit sample: a random share of examples kept for evaluation (show, or set with --share)")
    p.add_argument("name")
    p.add_argument("--share", type=audit_share, help="0 (none) to 0.5, e.g. 0.1: never trained on nor picked by the "
                                                     "model's queue orders; each version's accuracy on it is reported")
    p.set_defaults(handler=datasets_audit)

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
    p.add_argument("--excel", action="store_true",
                   help="start a .csv/.tsv with the UTF-8 byte-order mark Excel needs (other tools do not want it)")
    p.set_defaults(handler=export_file)

    p = sub.add_parser("examples", parents=[common], help="list examples")
    p.add_argument("name")
    p.add_argument("--unlabelled", action="store_true")
    p.add_argument("--conflicts", action="store_true", help="only examples whose annotators disagree")
    p.add_argument("--label")
    p.add_argument("--search", default="")
    p.add_argument("--limit", type=whole_number(1, MAX_PAGE),
                   help=f"at most this many examples (default: {TEXT_PAGE} in the text answer, all with --json)")
    p.add_argument("--offset", type=whole_number(0, MAX_INT64), default=0)
    p.add_argument("--order", choices=[o.name for o in ORDERS],
                   help="the unlabelled examples in the order the labelling queue hands them out: "
                        + "; ".join(f"{o.name}: {o.title.lower()}" for o in ORDERS))
    p.add_argument("--seed", type=whole_number(0, MAX_INT64), default=0, help="the queue's seed (with --order)")
    p.set_defaults(handler=examples)

    p = sub.add_parser("label", parents=[common], help="label one example")
    p.add_argument("name")
    p.add_argument("example_id", type=whole_number(1, MAX_INT64))
    p.add_argument("labels", help="LABEL or LABEL,LABEL for multi-label")
    p.add_argument("--annotator", required=True)
    p.set_defaults(handler=label)

    p = sub.add_parser("stats", parents=[common], help="counts per label, annotators, agreement")
    p.add_argument("name")
    p.add_argument("--agreement", action="store_true",
                   help="also Cohen's kappa per annotator pair, Fleiss' kappa and Krippendorff's alpha, with intervals")
    p.set_defaults(handler=stats)


def datasets_create(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    info = sv.datasets.create(args.name, args.task, args.labels, actor=Actor.local("cli"), description=args.description,
                              text_name=args.text_name, pair_name=args.pair_name)
    return f"created {shown(info.name)} ({info.task}; labels: {shown(', '.join(info.labels))})", info.to_dict()


def datasets_list(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    infos = sv.datasets.list()
    lines = [f"{shown(i.name):<24} {i.task:<13} {i.labelled:>6}/{i.examples:<6} labelled  [{shown(', '.join(i.labels))}]"
             for i in infos]
    return "\n".join(lines) or "no datasets yet: create one with `python -m ftdemo datasets create`", [i.to_dict() for i in infos]


class _LabelEditAction(argparse.Action):
    """--add / --rename / --retire append to one list, so the edits keep the order they were typed in."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        action = self.dest
        old, sep, new = str(values).partition("=") if action == "rename" else (str(values), "=", "")
        if not sep:
            parser.error(f"--rename takes OLD=NEW, got {values!r}")
        namespace.label_edits = [*namespace.label_edits, LabelEdit(action, old, new)]


def audit_share(text: str) -> float:
    """An argparse type: a share from 0 to MAX_AUDIT_SHARE."""
    from ftdemo.services.datasets import MAX_AUDIT_SHARE

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_AUDIT_SHARE:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to {MAX_AUDIT_SHARE}, got {text!r}")
    return value


def datasets_audit(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    if args.share is not None:
        status = sv.datasets.set_audit_share(args.name, args.share, actor=Actor.local("cli"))
    else:
        status = sv.datasets.audit(args.name)
    return f"{shown(status.dataset)}: {status.describe()}", status.to_dict()


def datasets_labels(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    if args.label_edits:
        info = sv.datasets.edit_labels(args.name, args.label_edits, actor=Actor.local("cli"))
    else:
        info = sv.datasets.info(args.name)
    return f"{shown(info.name)}: labels {shown(', '.join(info.labels))}" + (
        f" (retired: {shown(', '.join(info.retired_labels))})" if info.retired_labels else ""), info.to_dict()


def import_file(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    report = sv.transfer.import_file(args.name, args.file, text_col=args.text_col, pair_col=args.pair_col,
                                     label_col=args.label_col, strict=args.strict, actor=Actor.local(args.annotator),
                                     upload=False)  # a local file: not bound by the upload limit
    lines = [f"imported {report.imported}, duplicates {report.duplicates}, errors {len(report.errors)}"]
    lines += [f"  row {e['row']}: {shown(e['reason'])}" for e in report.errors[:20]]
    if len(report.errors) > 20:
        lines.append(f"  … and {len(report.errors) - 20} more (use --json for all)")
    if not report.committed:  # --strict refused the file: a script must not read this as success
        raise ReportedError(
            f"nothing was imported (--strict): {len(report.errors)} rows have errors and {report.duplicates} are "
            "duplicates; fix the rows listed or drop --strict to import the valid rows",
            "\n".join(lines), report.to_dict())
    return "\n".join(lines), report.to_dict()


def export_file(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    report = sv.transfer.export(args.name, args.file, actor=Actor.local("cli"), excel=args.excel)
    return (f"exported {report['exported']} examples to {shown(report['path'])}"
            + (" (with a byte-order mark, for Excel)" if args.excel else "")), report


def examples(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    """--json answers every match unless --limit is given (a script must not get a silent first page);
    the text answer shows a page of TEXT_PAGE and says how many there are."""
    limit = args.limit if args.limit is not None else (None if args.json else TEXT_PAGE)
    if args.order:  # a queue has no "all": a page unless --limit says otherwise, --json too
        return _queued(args, sv, args.limit or TEXT_PAGE)
    if args.conflicts:
        every = sv.annotate.conflicts(args.name, limit=None)
        views = every[args.offset:][:limit] if limit is not None else every[args.offset:]
        lines = [f"{v.id:>6}  agreement {v.agreement:.2f}  {shown(v.text[:60])}  <- "
                 + "; ".join(f"{shown(h['annotator'])}: {shown(','.join(h['labels']) or h['kind'])}" for h in v.history)
                 for v in views]
        lines.append(_shown_of(len(views), len(every), args.offset, "conflicts"))
        return "\n".join(lines), [{**v.to_dict(), "agreement": v.agreement, "history": v.history} for v in views]
    views, total = sv.annotate.search(args.name, unlabelled=args.unlabelled, label=args.label, text=args.search,
                                      limit=limit, offset=args.offset)
    lines = [f"{v.id:>6}  {shown(','.join(v.labels) or '-'):<16} {shown(v.text[:70])}"
             + (f"  ||  {shown(v.text_pair[:40])}" if v.text_pair else "") for v in views]
    lines.append(_shown_of(len(views), total, args.offset, "examples"))
    return "\n".join(lines), [v.to_dict() for v in views]


def _queued(args: argparse.Namespace, sv: Any, limit: int) -> tuple[str, Any]:
    """`examples --order`: what the queue would hand out next, best first, with the model's suggestion."""
    from ftdemo.cli.assist_cmds import wait_for_embeddings

    if args.conflicts or args.label or args.search or args.offset:
        raise UsageError("--order lists the labelling queue; leave out --conflicts, --label, --search and --offset")
    wait_for_embeddings(sv, args.name)  # the model orders rank by them, and every order shows suggestions
    views = sv.annotate.upcoming(args.name, Actor.local("cli"), order=args.order, seed=args.seed,
                                 limit=limit)
    lines = [f"{v.id:>6}  {shown(','.join(v.suggestion['labels']) + ' ?' if v.suggestion else '-'):<16} "
             f"{shown(v.text[:70])}" + (f"  ||  {shown(v.text_pair[:40])}" if v.text_pair else "") for v in views]
    lines.append(f"({len(views)} unlabelled examples, {args.order}; the column is the model's suggestion)")
    return "\n".join(lines), [v.to_dict() for v in views]


def _shown_of(n: int, total: int, offset: int, what: str) -> str:
    if n == total:
        return f"({total} {what})"
    first = offset + 1 if n else offset
    return f"({first}-{offset + n} of {total} {what}; --offset and --limit page through them, --json gives all)"


def label(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    view = sv.annotate.label(args.name, args.example_id, args.labels, actor=Actor.local(args.annotator), origin="cli")
    return f"example {view.id}: {shown(', '.join(view.labels))}", view.to_dict()


def stats(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    st = sv.datasets.stats(args.name)
    lines = [f"{shown(st.dataset)} ({st.task}): {st.labelled}/{st.examples} labelled"]
    lines += [f"  {shown(lab):<20} {n}" for lab, n in st.label_counts.items()]
    if st.multi_annotated:
        lines.append(f"  {st.multi_annotated} examples with ≥2 annotators, {st.conflicts} conflicts, agreement {st.agreement}")
    payload = st.to_dict()
    if args.agreement:  # new keys beside the old ones (agreement_cmds.agreement_report)
        from ftdemo.cli.agreement_cmds import agreement_report

        more, keys = agreement_report(sv, args.name)
        lines += more
        payload.update(keys)
    return "\n".join(lines), payload
