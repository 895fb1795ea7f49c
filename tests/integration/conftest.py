"""Fixtures shared by the integration tests: one throwaway PostgreSQL cluster per session (tests/integration/pg.py),
a database of its own for each module that asks for `postgres_url`."""
from __future__ import annotations

import pytest

from .pg import PostgresCluster


@pytest.fixture(scope="session")
def postgres_server():
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def postgres_url(postgres_server):
    """A fresh database on the session's cluster (psycopg URL)."""
    return postgres_server.url(postgres_server.create_database())
