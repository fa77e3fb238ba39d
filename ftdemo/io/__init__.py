"""Import and export of labelled texts: pure file handling, no database, no UI.

Import is two steps so a user can choose "import valid rows" or "import nothing":
    table = read_rows(path)                      # or preview(path) for the first rows
    plan = plan_import(table, task, labels, guess_mapping(table.columns, task),
                       existing_hashes=hashes)   # every row checked, nothing written
    store.add(plan.valid)                        # the caller's decision
Every reader bounds what a file decodes to (rows, bytes of values, nesting depth; `ReadLimits`),
derived from the one upload size limit the caller passes as `max_bytes`.
Row numbers in reports are 1-based data rows: a CSV/TSV header is not counted (row 1 is the line
after it, i.e. spreadsheet row 2); in JSON lines row N is line N. Blank lines keep their number.
Export: export_records([ExportRecord(...), ...], "out.csv" | ".jsonl" | ".parquet" | "folder/").
"""

from ftdemo.io.cells import escape_formula, unescape_formula
from ftdemo.io.export import ExportRecord, export_records, export_stream
from ftdemo.io.formats import EXPORT_FORMATS, IMPORT_FORMATS, FileFormat, export_format, import_format
from ftdemo.io.limits import ReadLimits
from ftdemo.io.mapping import ColumnMapping, check_mapping, descriptive_column, guess_mapping
from ftdemo.io.plan import DEFAULT_MAX_TEXT_CHARS, ImportCandidate, ImportPlan, plan_import
from ftdemo.io.readers import DEFAULT_MAX_BYTES, Preview, iter_rows, preview, read_rows
from ftdemo.io.streaming import FileCheck, check_file, valid_chunks
from ftdemo.io.table import Row, RowIssue, Table

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_TEXT_CHARS",
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "ColumnMapping",
    "ExportRecord",
    "FileCheck",
    "FileFormat",
    "ImportCandidate",
    "ImportPlan",
    "Preview",
    "ReadLimits",
    "Row",
    "RowIssue",
    "Table",
    "check_file",
    "check_mapping",
    "descriptive_column",
    "escape_formula",
    "export_format",
    "export_records",
    "export_stream",
    "guess_mapping",
    "import_format",
    "iter_rows",
    "plan_import",
    "preview",
    "read_rows",
    "unescape_formula",
    "valid_chunks",
]
