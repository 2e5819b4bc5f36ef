"""docs/flask.md's quick start booted by several worker processes at once, as gunicorn does.

Each ``gunicorn -w N`` worker imports app.py on its own, so N processes create the schema
and provision the demo member together on one empty database. gunicorn itself is not in
the locked development environment; forked processes that import the file as a worker
does, and then serve a page, stand in for it.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import re
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[3] / "docs"
WORKERS = 4
STARTS = 5


def _quick_start() -> str:
    text = (DOCS / "flask.md").read_text(encoding="utf-8")
    start = text.index("\n## A new app from scratch\n")
    end = text.find("\n## ", start + 1)
    blocks = re.findall(r"^```python\n(.*?)^```", text[start:end],
                        flags=re.DOTALL | re.MULTILINE)
    assert len(blocks) == 1, "the Flask quick start is one file"
    source: str = blocks[0]
    return source


def _boot_worker(folder: str, start: Any, results: Any) -> None:
    """One worker: import app.py, then serve the login page."""
    try:
        os.chdir(folder)
        start.wait()
        spec = importlib.util.spec_from_file_location("quickstart_app", Path(folder, "app.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["quickstart_app"] = module
        spec.loader.exec_module(module)
        status = module.app.test_client().get("/connexion").status_code
        module.storage.engine.dispose()
        results.put(f"status {status}")
    except BaseException:
        # The parent reports whatever stopped the boot, whatever it was.
        results.put(traceback.format_exc(limit=4))


def _boot(folder: Path, source: str, env: dict[str, str]) -> list[str]:
    """Start WORKERS workers on app.py at once; what each reported."""
    (folder / "app.py").write_text(source, encoding="utf-8")
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    start, results = context.Event(), context.Queue()
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        workers = [context.Process(target=_boot_worker, args=(str(folder), start, results))
                   for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    start.set()
    reports = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    return reports


def _keys(base_url: str) -> dict[str, str]:
    # Keys from the environment, as in production: each worker would otherwise make its
    # own development keys, a race of the development shortcut and not of the schema.
    return {"CEGEMA_SECRET_KEYS": "link-" + "k" * 60,
            "CEGEMA_PEPPER_KEYS": "p1:pepper-" + "p" * 60,
            "CEGEMA_SESSION_KEY": "session-" + "s" * 60, "CEGEMA_BASE_URL": base_url,
            "CEGEMA_DATABASE_URL": "sqlite:///onboarding.db", "CEGEMA_CONFIG": ""}


def test_the_quick_start_boots_in_every_worker_on_one_empty_sqlite_file(
        tmp_path: Path) -> None:
    pytest.importorskip("flask")
    pytest.importorskip("sqlalchemy")
    source = _quick_start()
    for n in range(2):
        folder = tmp_path / f"start-{n}"
        folder.mkdir()
        reports = _boot(folder, source, _keys("https://adherents.example.org"))
        assert reports == ["status 200"] * WORKERS


@pytest.mark.slow
@pytest.mark.postgres
def test_the_quick_start_boots_in_every_worker_on_one_empty_postgres_database(
        pg_url: str, tmp_path: Path) -> None:
    pytest.importorskip("flask")
    import sqlalchemy as sa

    from ...pg import sql_adapter

    sql = sql_adapter()
    source = _quick_start()
    for n in range(STARTS):
        # Each start on an empty schema of its own, as a new deployment would find.
        name = f"boot_{uuid.uuid4().hex[:10]}"
        admin = sql.postgres_engine(pg_url)
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        finally:
            admin.dispose()
        url = sa.make_url(pg_url).update_query_dict({"options": f"-csearch_path={name}"})
        folder = tmp_path / f"start-{n}"
        folder.mkdir()
        env = _keys("https://adherents.example.org")
        env["CEGEMA_DATABASE_URL"] = url.render_as_string(hide_password=False)
        reports = _boot(folder, source, env)
        assert reports == ["status 200"] * WORKERS, f"start {n + 1}: {reports}"
