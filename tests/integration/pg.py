"""A throwaway PostgreSQL cluster for the integration tests: initdb + pg_ctl as the `postgres` user, trust
authentication, listening on a free loopback port only; one per test session (fixture `postgres_server` in
tests/integration/conftest.py), one database per test module (`postgres_url`)."""
from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

AS_PG = ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """`start()`, `create_database()` -> its name, `url(db, driver)`, `stop()` (removes the data folder)."""

    def __init__(self):
        self.bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]  # installed by scripts/setup.sh
        self.data: Path | None = None
        self.port = 0

    def start(self) -> "PostgresCluster":
        # postgres refuses to run as root and cannot enter pytest's private (0700) tmp folders
        self.data = Path(tempfile.mkdtemp(prefix="callqa-pg-"))
        shutil.chown(self.data, "postgres", "postgres")
        subprocess.run([*AS_PG, f"{self.bindir}/initdb", "-D", str(self.data), "-A", "trust", "-U", "callqa"],
                       check=True, capture_output=True)
        self.port = _free_port()
        subprocess.run([*AS_PG, f"{self.bindir}/pg_ctl", "-D", str(self.data), "-w", "-l", str(self.data / "log"),
                        "-o", f"-h 127.0.0.1 -p {self.port} -k {self.data} -c max_connections=200", "start"],
                       check=True, capture_output=True)
        return self

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://callqa@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        import sqlalchemy as sa

        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return name

    def stop(self) -> None:
        if self.data is None:
            return
        subprocess.run([*AS_PG, f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.data, ignore_errors=True)
        self.data = None
