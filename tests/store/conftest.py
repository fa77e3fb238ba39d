import pytest

from ftdemo.store import Database


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """An empty database on each backend (tests/conftest.py: `backend`)."""
    return empty_db_url


@pytest.fixture
def fresh_db(db_url):
    db = Database(db_url)
    yield db
    db.dispose()
