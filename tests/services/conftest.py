import pytest


@pytest.fixture
def app_db_url(migrated_db_url: str) -> str:
    """The services run on SQLite and on PostgreSQL (tests/conftest.py: `backend`)."""
    return migrated_db_url
