"""Shared fixtures: tiny models, fast training options, and real services over a fresh database.

- `tiny_model_dir`: a saved random tiny BERT to fine-tune from or to serve (session-scoped);
  `tiny_models(**kw)`: more of them (named labels, multi-label thresholds, pairs; see tests/tiny.py);
- `fast_options`: training options that finish in about a second on `tiny_model_dir`;
- `settings` / `services`: real services on a fresh copy of one migrated database (`app_db_url`: SQLite;
  tests/store and tests/services run on both backends, see below);
  `admin` / `annotator`: the two roles; `serve_app`: the real Gradio app on a free port.
- `backend`: the one parametrised fixture, "sqlite" and "postgresql"; `empty_db_url` / `migrated_db_url`
  give a fresh database on it. PostgreSQL is the server named by FTDEMO_TEST_PG_URL (`.ci/run` starts a
  throwaway one with `.ci/postgres`); without it those tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import contextlib
import itertools
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
# no surprise training runs: a test that wants the automatic fine-tune turns it on (tests/services/test_retrain.py);
# this reaches the app processes and CLI commands the tests start (Settings.from_env)
os.environ.setdefault("FTDEMO_RETRAIN_EVERY", "0")


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
def tiny_encoder_dir(tiny_models: Callable[..., Path]) -> Path:
    """A random tiny BertModel (no classification head): the base checkpoint of tests that embed examples
    (the bundled MiniLM takes seconds to load)."""
    return tiny_models("encoder", model_class="BertModel")


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
def app_db_url(tmp_path: Path, migrated_db: Path) -> str:
    """The database `settings` uses: a SQLite copy of the migrated one (tests/services: both backends)."""
    shutil.copy(migrated_db, tmp_path / "ftdemo.db")
    return f"sqlite:///{tmp_path / 'ftdemo.db'}"


@pytest.fixture
def settings(tmp_path: Path, app_db_url: str) -> Settings:
    return Settings(data_dir=tmp_path, db_url=app_db_url, seed_demo=False, retrain_every=0)


@pytest.fixture
def assist_settings(settings: Settings, tiny_encoder_dir: Path) -> Settings:
    """`settings` whose base checkpoint, which embeds the examples, is the tiny encoder."""
    return settings.replace(base_model=str(tiny_encoder_dir))


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    sv = Services(settings)
    yield sv
    sv.close()


# --- the two backends ----------------------------------------------------------------------------

PG_URL_ENV = "FTDEMO_TEST_PG_URL"
_pg_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Any]:
    """An AUTOCOMMIT engine on the maintenance database of the test server (FTDEMO_TEST_PG_URL), which
    makes and drops the test databases. Skips without the variable; under CI (CI set) that fails."""
    url = os.environ.get(PG_URL_ENV, "").strip()
    if not url:
        reason = (f"no PostgreSQL server for the tests: set {PG_URL_ENV}=postgresql+psycopg://USER@HOST/postgres "
                  "(a throwaway one: `.ci/postgres start /tmp/ftdemo-pg` prints it, "
                  "`.ci/postgres stop /tmp/ftdemo-pg` removes it)")
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests, and .ci/run starts the server", pytrace=False)
        pytest.skip(reason)
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # a variable that names no working server is a broken setup: fail, never skip
        shown = engine.url.render_as_string(hide_password=True)
        pytest.fail(f"{PG_URL_ENV}={shown} names no server that answers: {err}", pytrace=False)
    yield engine
    engine.dispose()


def _pg_database(admin: Any, template_url: str | None = None) -> str:
    """CREATE DATABASE (a copy of the database at `template_url`, or empty); returns its URL."""
    from sqlalchemy.engine import make_url

    name = f"ftdemo_test_{os.getpid()}_{next(_pg_names)}"
    template = f' TEMPLATE "{make_url(template_url).database}"' if template_url else ""
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{template}')
    return admin.url.set(database=name).render_as_string(hide_password=False)


def _pg_drop(admin: Any, url: str) -> None:
    from sqlalchemy.engine import make_url

    with admin.connect() as conn:  # FORCE: a connection a test left open must not keep the database
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template(pg_admin: Any) -> Iterator[str]:
    """One migrated PostgreSQL database; each test gets a copy (CREATE DATABASE … TEMPLATE)."""
    from ftdemo.store import Database

    url = _pg_database(pg_admin)
    Database(url).dispose()  # migrates; no connection may stay open on a template
    yield url
    _pg_drop(pg_admin, url)


@pytest.fixture(scope="session")
def pg_database(pg_admin: Any, pg_template: str) -> Callable[..., contextlib.AbstractContextManager[str]]:
    """`with pg_database(migrated=True) as url:` a fresh PostgreSQL database (a copy of the migrated one, or
    empty), dropped at the end of the block: for fixtures of any scope."""

    @contextlib.contextmanager
    def database(*, migrated: bool = True) -> Iterator[str]:
        url = _pg_database(pg_admin, pg_template if migrated else None)
        try:
            yield url
        finally:
            _pg_drop(pg_admin, url)

    return database


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database a test runs on; tests asking for it (through the fixtures below) run on both."""
    return request.param


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty (unmigrated) database on `backend`, dropped after the test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with request.getfixturevalue("pg_database")(migrated=False) as url:
        yield url


@pytest.fixture
def migrated_db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh copy of the migrated database on `backend`, dropped after the test."""
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("migrated_db"), tmp_path / "ftdemo.db")
        yield f"sqlite:///{tmp_path / 'ftdemo.db'}"
        return
    with request.getfixturevalue("pg_database")() as url:
        yield url


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
