import pytest

from ftdemo.store import Database


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def fresh_db(db_url):
    db = Database(db_url)
    yield db
    db.dispose()
