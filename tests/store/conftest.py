"""Store backends for the store tests: SQLite in a temporary directory, and a throwaway
PostgreSQL server started from the machine's PostgreSQL binaries (Debian's postgresql package).

Without PostgreSQL binaries the postgres cases are skipped, unless PODWARDEN_REQUIRE_POSTGRES=1
(CI sets it), which turns that into a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from podwarden.store.sql import Store, sqlite_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("PODWARDEN_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    root = Path(tempfile.mkdtemp(prefix="pw-pg-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as postgres
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = subprocess.run
    run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "podwarden", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://podwarden@127.0.0.1:{port}/postgres"
    finally:
        run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """A factory of Store objects on one fresh database (call it twice for a 'restart')."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        base = request.getfixturevalue("postgres_url")
        url = base
        cleaner = Store(base)
        with cleaner.engine.begin() as conn:  # a clean schema per test
            conn.execute(text("DROP TABLE IF EXISTS instances, clusters"))
        cleaner.close()
    stores: list[Store] = []

    def factory() -> Store:
        store = Store(url)
        stores.append(store)
        return store

    yield factory
    for s in stores:
        s.close()
