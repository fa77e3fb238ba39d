"""Import and export: the io module's file logic joined to the store."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ftdemo import io
from ftdemo.services.base import Actor, Service, require_admin
from ftdemo.store import derived, repo
from ftdemo.store.schema import Example
from ftdemo.tasks import TaskType

PREVIEW_ROWS = 20
IMPORT_CHUNK = 1000  # rows written per transaction (~0.15 s): the longest a labeller waits for the write lock
# After each chunk the import lets go of the write lock for a moment, long enough for the labellers who
# queued meanwhile (polling every few ms, see store.session) to write first: without it the next chunk
# can win the lock again within a millisecond, and a labeller waits chunk after chunk.
WRITE_PAUSE_S = 0.03
Progress = Callable[[str, int, "int | None"], None]


@dataclass
class ImportReport:
    imported: int
    duplicates: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    labelled: int = 0
    rows: int = 0
    committed: bool = True  # False: --strict / "import nothing" refused the whole file
    duplicate_rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"imported": self.imported, "duplicates": self.duplicates, "errors": self.errors,
                "labelled": self.labelled, "rows": self.rows, "committed": self.committed,
                "duplicate_rows": self.duplicate_rows}


def _mapping(columns: list[str], task: TaskType, text_col: str | None, pair_col: str | None,
             label_col: str | None) -> io.ColumnMapping:
    """Guessed mapping, overridden by whatever the user named ('' for a column means: none)."""
    guess = io.guess_mapping(columns, task)
    pick = lambda given, guessed: guessed if given is None else (given or None)  # noqa: E731
    return io.ColumnMapping(text=pick(text_col, guess.text) or "", text_pair=pick(pair_col, guess.text_pair),
                            label=pick(label_col, guess.label))


class TransferService(Service):
    @property
    def max_bytes(self) -> int:
        return self.settings.max_upload_mb * 1024 * 1024

    def check(self, dataset: str, path: str | Path, *, actor: Actor, text_col: str | None = None,
              pair_col: str | None = None, label_col: str | None = None, upload: bool = True,
              head_rows: int = 0, on_progress: Progress | None = None) -> io.FileCheck:
        """Check every row of a file against a dataset, a chunk at a time; writes nothing.

        Admins only, like the import it plans: parsing an upload costs the server memory and time, so an
        annotator must not be able to make it parse files by asking for a preview. `upload=False`: a
        file of the server's own (the CLI), bounded by the hard limits instead of the upload limit.
        `head_rows`: keep the labels of the valid rows among the first rows (what a preview shows)."""
        require_admin(actor, "import data")
        progress = on_progress or (lambda *_: None)
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            ds_id, task, labels = ds.id, TaskType(ds.task), repo.active_label_names(ds)

        def stored(hashes: Sequence[str]) -> set[str]:
            with self.db.read() as s:
                return repo.existing_hashes(s, ds_id, hashes)

        return io.check_file(self._chunks(path, upload), task, labels,
                             lambda columns: _mapping(columns, task, text_col, pair_col, label_col), stored=stored,
                             max_text_chars=self.settings.max_text_chars, head_rows=head_rows,
                             on_chunk=lambda n: progress("checking", n, None))

    def _chunks(self, path: str | Path, upload: bool) -> Iterator[io.Table]:
        return io.iter_rows(path, max_bytes=self.max_bytes if upload else None, chunk_rows=IMPORT_CHUNK)

    def preview(self, dataset: str, path: str | Path, *, actor: Actor, text_col: str | None = None,
                pair_col: str | None = None, label_col: str | None = None) -> dict[str, Any]:
        """First rows, columns, the mapping in use and what an import would do (for the UI; admins only)."""
        require_admin(actor, "import data")
        head = io.preview(path, PREVIEW_ROWS, max_bytes=self.max_bytes)
        check = self.check(dataset, path, actor=actor, text_col=text_col, pair_col=pair_col, label_col=label_col,
                           head_rows=max(head.row_numbers, default=0))
        # what each shown row becomes under this mapping: its labels, "unlabelled", or why it is skipped
        skipped = {i["row"]: f"skipped: {i['reason']}" for i in check.errors + check.duplicates}
        labels = {n: ", ".join(names) or "(unlabelled)" for n, names in check.head_labels.items()}
        outcome = [skipped.get(n) or labels.get(n) or "" for n in head.row_numbers]
        return {"columns": head.columns, "rows": head.to_matrix(), "outcome": outcome,
                "mapping": check.mapping.to_dict(), "summary": check.summary(),
                "errors": (check.errors + check.duplicates)[:200], "description": check.describe()}

    def import_file(self, dataset: str, path: str | Path, *, actor: Actor, text_col: str | None = None,
                    pair_col: str | None = None, label_col: str | None = None, strict: bool = False,
                    upload: bool = True, on_progress: Progress | None = None) -> ImportReport:
        """Import the valid rows of a file, or (strict) nothing at all if any row has a problem.

        Streams (io.streaming): a first pass checks every row, a second writes them in chunks of
        IMPORT_CHUNK rows, each its own short transaction, so labellers wait at most a chunk's time for
        the write lock and memory stays bounded whatever the file's size. The rows are tagged with the
        import; an import that fails or is interrupted midway removes what it wrote.
        `on_progress(phase, rows done, rows in all or None)` follows it ("checking", then "writing").
        `upload=False`: a file of the server's own (see `check`)."""
        progress = on_progress or (lambda *_: None)
        check = self.check(dataset, path, actor=actor, text_col=text_col, pair_col=pair_col, label_col=label_col,
                           upload=upload, on_progress=progress)
        errors, dupes = [dict(e) for e in check.errors], [dict(d) for d in check.duplicates]
        if strict and (errors or dupes):
            return ImportReport(0, len(dupes), errors, 0, check.rows, committed=False, duplicate_rows=dupes)
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            task, labels = TaskType(ds.task), repo.active_label_names(ds)
        import_id = uuid.uuid4().hex
        imported = labelled = raced = 0
        try:
            for done, cands in io.valid_chunks(self._chunks(path, upload), check, task, labels,
                                               max_text_chars=self.settings.max_text_chars):
                written, tagged, gone = self._write(dataset, cands, actor, import_id)
                imported, labelled, raced = imported + written, labelled + tagged, raced + gone
                progress("writing", done, check.rows)
                time.sleep(WRITE_PAUSE_S)
        except BaseException:
            self._forget(dataset, import_id)  # nothing of a failed import stays behind
            raise
        if imported:
            self._name_texts(dataset, check.mapping)
        return ImportReport(imported, len(dupes) + raced, errors, labelled, check.rows, duplicate_rows=dupes)

    def _write(self, dataset: str, cands: list[io.ImportCandidate], actor: Actor,
               import_id: str | None) -> tuple[int, int, int]:
        """One chunk in one transaction: (rows imported, of those labelled, rows someone stored meanwhile)."""
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            items = [repo.NewExample(c.text, c.text_pair, c.source[:200],
                                     {k: v for k, v in c.metadata.items() if k not in ("history", "labels")} or None)
                     for c in cands]
            ids = repo.add_examples(s, ds, items, created_by=actor.name, import_id=import_id)
            active = set(repo.active_label_names(ds))
            labelled = [(i, c.labels) for i, c in zip(ids, cands) if i is not None and c.labels
                        and set(c.labels) <= active]
            repo.add_label_annotations(s, ds, labelled, annotator=actor.name)
        raced = sum(1 for i in ids if i is None)
        return len(ids) - raced, len(labelled), raced

    def _forget(self, dataset: str, import_id: str) -> None:
        """Remove every row an import wrote (in chunks: each a short transaction)."""
        while True:
            with self.db.write() as s:
                ds = repo.get_dataset(s, dataset)
                ids = list(s.scalars(select(Example.id).where(Example.dataset_id == ds.id,
                                                              Example.import_id == import_id).limit(IMPORT_CHUNK)))
                if not ids:
                    return
                derived.forget_examples(s, ds, ids)

    def _name_texts(self, dataset: str, mapping: io.ColumnMapping) -> None:
        """A pair file's own column names (premise/hypothesis, question/passage) name the texts of a pair
        dataset that has no names yet."""
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            if ds.task == TaskType.PAIR.value and not (ds.text_name or ds.pair_name):
                named = [io.descriptive_column(c) for c in (mapping.text, mapping.text_pair)]
                if all(named):
                    ds.text_name, ds.pair_name = named

    def export(self, dataset: str, path: str | Path, *, actor: Actor, excel: bool = False) -> dict[str, Any]:
        """Write every live example with its current labels and full history (`excel`: a CSV/TSV with
        the byte-order mark Excel needs to read UTF-8)."""
        require_admin(actor, "export data")
        fmt = io.export_format(path)
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            records = (io.ExportRecord(i, text, pair, list(labels), hist)
                       for page in repo.export_pages(s, ds) for i, text, pair, labels, hist in page)
            written, n = io.export_stream(records, path, excel=excel, with_pair=repo.has_pairs(s, ds))
        return {"exported": n, "path": str(written), "format": fmt.value, "excel": excel}
