"""Operations commands: backup, restore, doctor, rebuild."""

from __future__ import annotations

import argparse
import platform
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("backup", parents=[common], help="online backup of the SQLite database (safe while the app runs)")
    p.add_argument("dest", help="a new .db file, or a directory for a time-stamped one")
    p.set_defaults(handler=backup, needs_services=False)  # read-only: no migrations, no write lock
    p = sub.add_parser("restore", parents=[common],
                       help="replace the SQLite database with a backup (stop the app first; the current one is kept)")
    p.add_argument("src", help="a backup file made by `backup`")
    p.set_defaults(handler=restore, needs_services=False)  # must not hold the database open itself
    p = sub.add_parser("doctor", parents=[common], help="check versions, device, database and paths")
    p.set_defaults(handler=doctor)
    p = sub.add_parser("rebuild", parents=[common],
                       help="recompute current labels and totals from the annotation history (or --check them)")
    p.add_argument("name", nargs="?", help="one dataset (default: all)")
    p.add_argument("--check", action="store_true", help="only compare; exit 2 if anything differs")
    p.set_defaults(handler=rebuild)


def backup(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.settings import Settings
    from ftdemo.store.session import backup as do_backup

    # Opening the services would migrate, i.e. take the write lock, which busy labellers may hold
    # for longer than the busy timeout; a backup only ever reads.
    path = do_backup(Settings.from_env(db_url=args.db).db_url, args.dest)
    size = path.stat().st_size
    return (f"backed up to {path} ({size / 2**20:.1f} MiB). To restore it: stop the app, then "
            f"python -m ftdemo restore {path}"), {"path": str(path), "bytes": size}


def restore(args: argparse.Namespace, _sv: Any) -> tuple[str, Any]:
    from ftdemo.settings import Settings
    from ftdemo.store.restore import restore as do_restore

    settings = Settings.from_env(db_url=args.db)
    report = do_restore(args.src, settings.db_url, allow_unsafe_fs=settings.allow_unsafe_fs)
    c = report.counts
    kept = f"the previous database is kept as {report.previous}" if report.previous else "there was no database before"
    return (f"restored {report.source} to {report.restored} ({c['datasets']} datasets, {c['examples']} examples, "
            f"{c['annotations']} annotations); {kept}. Start the app again."), report.to_dict()


def doctor(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    import sqlite3

    import torch

    from ftdemo.errors import FtdemoError
    from ftdemo.store.migrate import current_revision, head_revision
    from ftdemo.store.session import public_url

    report: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("transformers", "gradio", "sqlalchemy", "datasets"):
        try:
            report[name] = __import__(name).__version__
        except ImportError:
            report[name] = None
    cuda = torch.cuda.is_available()
    report["device"] = torch.cuda.get_device_name(0) if cuda else "cpu"
    report["bf16"] = bool(cuda and torch.cuda.is_bf16_supported())
    report["db_url"] = public_url(sv.settings.db_url)  # a server's password: ***
    report["database"] = sv.db.server_version()
    report["sqlite_version"] = sqlite3.sqlite_version
    report["journal_mode"] = sv.db.journal_mode()
    report["filesystem"] = _filesystem(sv.settings.db_url)
    report["integrity"] = sv.db.integrity_check()
    report["schema"] = f"{current_revision(sv.db.engine)} (this ftdemo: {head_revision()})"
    report["data_dir"] = str(sv.settings.data_dir)
    report["models_dir"] = str(sv.settings.models_dir)
    report["training"] = sv.settings.training  # local: the app's child processes; workers: `python -m ftdemo worker`
    report["base_model"] = sv.settings.resolved_base_model()
    report["auth"] = "on" if sv.settings.auth_enabled else "off"
    report["active_models"] = {}
    for name in sv.datasets.names():
        active = sv.models.active(name)
        report["active_models"][name] = active["version"] if active else None
    problems = []
    if report["integrity"] != "ok":
        problems.append(f"database integrity check failed: {report['integrity']}; restore a backup")
    if current_revision(sv.db.engine) != head_revision():
        problems.append(f"the database schema is {current_revision(sv.db.engine)}, not {head_revision()}; "
                        "start the app once to migrate it")
    if report["journal_mode"] not in ("wal", "n/a"):
        problems.append(f"journal mode is {report['journal_mode']}, expected wal")
    report["problems"] = problems
    lines = [f"{k:<15} {v}" for k, v in report.items() if k != "problems"]
    if problems:
        raise FtdemoError("; ".join(problems))
    return "\n".join(lines + ["all checks passed"]), report


def _filesystem(db_url: str) -> str:
    from ftdemo.store.filesystem import database_mount
    from ftdemo.store.session import sqlite_path

    path = sqlite_path(db_url)
    mount = database_mount(path) if path is not None else None
    return f"{mount.fstype} ({mount.mount_point})" if mount else "n/a"


def rebuild(args: argparse.Namespace, sv: Any) -> tuple[str, Any]:
    from ftdemo.cli.common import ReportedError
    from ftdemo.services import Actor

    found = sv.datasets.rebuild(args.name, actor=Actor.local("cli"), check_only=args.check)
    payload = {"checked_only": args.check, "datasets": {name: {"differences": diff} for name, diff in found.items()}}
    lines = [f"{name}: " + (("differs in " + ", ".join(diff) + ("" if args.check else "; rebuilt")) if diff
                            else "matches its history") for name, diff in found.items()]
    text = "\n".join(lines) or "no datasets"
    if args.check and any(found.values()):
        raise ReportedError("the stored current labels or totals differ from the history; run "
                            "`python -m ftdemo rebuild` to recompute them", text, payload)
    return text, payload
