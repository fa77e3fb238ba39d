"""What the log says: INFO for what a person running the app needs (where the data lives, schema
upgrades, runs starting and ending, models loaded), not the libraries' routine chatter.

Alembic announces its dialect on every start, transformers prints a load report (the fresh
classifier head is always "MISSING" from a base checkpoint: expected) and a progress bar per model
load, httpx every request gradio makes to itself. Entry points (app.py, the CLI, the training child)
call `configure()` once.
"""

from __future__ import annotations

import logging

QUIET = {"alembic": logging.WARNING, "httpx": logging.WARNING, "transformers": logging.ERROR,
         "huggingface_hub": logging.WARNING, "urllib3": logging.WARNING}


def configure(level: int = logging.INFO, fmt: str = "%(levelname)s %(name)s: %(message)s") -> None:
    """Root logging at `level` for our messages; the noisy libraries at warning or above."""
    logging.basicConfig(level=level, format=fmt)
    logging.getLogger("ftdemo").setLevel(level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    try:  # transformers keeps its own verbosity and progress bars apart from the logging tree
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a requirement
        return
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
