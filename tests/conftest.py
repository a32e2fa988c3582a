"""Fixtures shared by the whole suite: clock, settings, and migrated databases on both backends."""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.crypto import hashing
from idplus.crypto.keys import NewKeyMaterial, generate_key_material
from idplus.logs import configure_logging
from idplus.manage import keys as manage_keys
from idplus.store.migrations import upgrade_to_head
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore
from tests.harness import Harness
from tests.live_server import LiveServer, RelyingParty, run_live_server, run_relying_party

# The end-to-end groups: `make test-e2e` runs them apart from the in-process suite.
E2E_DIRECTORIES = ("flows", "browser")
# Modules elsewhere that drive real server processes too.
E2E_MODULES = ("test_resource.py", "test_metrics_exposition.py")
# The multi-instance and fault groups (issue 21): real processes too, but `make test` runs
# them after the in-process suite, file by file, rather than `make test-e2e`.
CLUSTER_MODULES = ("test_cluster_*.py", "test_graceful_shutdown.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(tests).parts
        at_top = parts == (item.path.name,)
        if parts[0] in E2E_DIRECTORIES or (at_top and item.path.name in E2E_MODULES):
            item.add_marker(pytest.mark.e2e)
        if parts[0] == "flows" and any(item.path.match(m) for m in CLUSTER_MODULES):
            item.add_marker(pytest.mark.cluster)


POSTGRES_ADMIN_URL = os.environ.get(
    "IDPLUS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ISSUER = "http://127.0.0.1:8000"


def _postgres_reason() -> str | None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}".splitlines()[0]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No IDPLUS_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("IDPLUS_") and name != "IDPLUS_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _server_logging() -> None:
    """Every test starts with the server's logging (INFO): an `idplus` command run by an
    earlier test leaves the CLI's WARNING, which would hide the INFO events tests capture."""
    configure_logging("INFO")


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with the production parameters takes ~0.2 s of a core per hash and per
    verification, and most tests add a user and log in: the in-process suite hashes with the
    smallest parameters argon2 allows. Still argon2id through the same functions; hashes made
    either way verify either way (the parameters are in the hash). Servers the tests start as
    processes (tests/flows, tests/browser) hash as in production."""
    monkeypatch.setattr(
        hashing, "_password_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


KeyMaterialPool = dict[tuple[str, str | None], list[NewKeyMaterial]]


@pytest.fixture(scope="session")
def _key_material_pool() -> KeyMaterialPool:
    return {}


@pytest.fixture(autouse=True)
def _reused_signing_keys(
    monkeypatch: pytest.MonkeyPatch, _key_material_pool: KeyMaterialPool
) -> None:
    """Nearly every test starts a fresh database and so makes an RSA key per RS256 and PS256
    (50-150 ms each): the n-th key a test asks for of an algorithm is the n-th an earlier test
    got. Within a test every key is still new, as rotation tests need; tests of key
    generation itself call idplus.crypto.keys directly and are not affected."""
    handed_out: Counter[tuple[str, str | None]] = Counter()

    def generate(alg: str, key_encryption_key: str | None) -> NewKeyMaterial:
        slot = (alg, key_encryption_key)
        pool = _key_material_pool.setdefault(slot, [])
        index = handed_out[slot]
        handed_out[slot] += 1
        if index == len(pool):
            pool.append(generate_key_material(alg, key_encryption_key))
        return pool[index]

    monkeypatch.setattr(manage_keys, "generate_key_material", generate)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "idplus.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated database that each test copies (CREATE DATABASE … TEMPLATE is fast)."""
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    name = f"idplus_tpl_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    upgrade_to_head(_url_for(name))
    yield name
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(statement: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement.encode())


def _url_for(database: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "idplus.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    name = f"idplus_test_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield _url_for(name)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres_database() -> Iterator[str]:
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    name = f"idplus_empty_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    yield _url_for(name)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A PostgreSQL database with no schema, of this test alone."""
    yield from _empty_postgres_database()


@pytest.fixture(scope="module")
def module_empty_postgres_url() -> Iterator[str]:
    """The same, shared by a module's tests (one cluster of instances for the module)."""
    yield from _empty_postgres_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database on each backend: the store contract runs on both."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database) -> SqlStore:
    """The same database as `db`, as the Store the application sees."""
    return SqlStore(db)


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return Settings(
        issuer=ISSUER,
        database_url=sqlite_url,
        outbox=tmp_path / "outbox.jsonl",
        log_json=True,
    )


@pytest.fixture
def client(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    """The whole app in-process, lifespan run, redirects left to the test."""
    app = create_app(settings, clock=clock)
    with TestClient(app, base_url=settings.issuer, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def harness(client: TestClient, settings: Settings, clock: FrozenClock) -> Harness:
    return Harness(client, settings, clock)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """`idplus db upgrade`, `idplus demo seed` and `idplus serve` as real processes."""
    yield from run_live_server(tmp_path)


@pytest.fixture
def relying_party() -> Iterator[RelyingParty]:
    yield from run_relying_party()
