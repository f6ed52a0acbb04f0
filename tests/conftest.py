"""Shared fixtures: one ``store`` fixture parametrized over SQLite and PostgreSQL.

PostgreSQL tests need ``PILOTGATE_TEST_POSTGRES_URL`` (CI sets it). Without it they are skipped locally,
but under CI (``CI=true``) a missing URL is an error: the PostgreSQL tests must never be skipped silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from pilotgate.store import Store, open_store
from pilotgate.testing import fresh_postgres_schema

POSTGRES_URL = os.environ.get("PILOTGATE_TEST_POSTGRES_URL", "")

# CI explores the same hypothesis examples on every run, so a landing is never blocked by a new random draw;
# developers' runs stay random (and keep their example database) to keep finding new cases.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _require_postgres() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail("CI must set PILOTGATE_TEST_POSTGRES_URL: the PostgreSQL tests may not be skipped")
    pytest.skip("PILOTGATE_TEST_POSTGRES_URL is not set")


def postgres_schema_url() -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema; the schema is dropped afterwards."""
    with fresh_postgres_schema(_require_postgres()) as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL on a fresh schema (skipped locally without a server, an error in CI)."""
    yield from postgres_schema_url()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a new, empty store: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, migrated store on SQLite and on PostgreSQL."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
