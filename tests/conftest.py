"""Shared fixtures: tiny models, fast training options, and real services over a fresh database.

- `tiny_model_dir`: a saved random tiny BERT to fine-tune from or to serve (session-scoped);
  `tiny_models(**kw)`: more of them (named labels, multi-label thresholds, pairs; see tests/tiny.py);
- `fast_options`: training options that finish in about a second on `tiny_model_dir`;
- `settings` / `services`: real services on a temp-file SQLite copy of one migrated database;
  `admin` / `annotator`: the two roles; `serve_app`: the real Gradio app on a free port.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tiny import FAST_TRAIN, build_tiny_model

from ftdemo.services import Actor, Services
from ftdemo.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the tests may touch the Hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """tiny_models(name="model", **kw) -> a saved tiny model built by tests/tiny.build_tiny_model (one per
    name and kw, cached). A model directory's name is its version when its metadata names none."""
    built: dict[str, Path] = {}

    def make(name: str = "model", **kw: Any) -> Path:
        key = repr((name, sorted(kw.items())))
        if key not in built:
            built[key] = build_tiny_model(tmp_path_factory.mktemp("tiny-bert") / name, **kw)
        return built[key]

    return make


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_models: Callable[..., Path]) -> Path:
    """A random BertForSequenceClassification (hidden 32, 2 layers, 2 heads, 2 labels) + the bundled tokenizer."""
    return tiny_models()


@pytest.fixture(scope="session")
def fast_options(tiny_model_dir: Path) -> dict[str, Any]:
    """Training options (TrainConfig names) for a run of about a second on the tiny model."""
    return {**FAST_TRAIN, "base_model": str(tiny_model_dir)}


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database file; each test starts from a copy (migrating costs ~0.5 s a test)."""
    folder = tmp_path_factory.mktemp("template-db")
    Services(Settings(data_dir=folder, seed_demo=False)).close()
    return folder / "ftdemo.db"


@pytest.fixture
def settings(tmp_path: Path, migrated_db: Path) -> Settings:
    shutil.copy(migrated_db, tmp_path / "ftdemo.db")
    return Settings(data_dir=tmp_path, seed_demo=False)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    sv = Services(settings)
    yield sv
    sv.close()


@pytest.fixture
def admin() -> Actor:
    return Actor("ada", "admin")


@pytest.fixture
def annotator() -> Actor:
    return Actor("ann", "annotator")


@pytest.fixture(scope="session")
def serve_app():
    """A context manager that runs the real Gradio app over `services` on a free localhost port.

        with serve_app(services) as url: ...   # url = "http://127.0.0.1:PORT/"
        with serve_app(services, close_services=True) as url: ...   # also closes `services` at the end
    """
    import contextlib

    from apphost import serve_on_free_port

    @contextlib.contextmanager
    def serve(services, *, close_services=False):  # type: ignore[no-untyped-def]
        try:
            with serve_on_free_port(services) as (url, _demo):
                yield url
        finally:
            if close_services:  # the caller made `services` for this app alone
                services.close()

    return serve
