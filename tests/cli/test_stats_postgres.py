"""The funnel's queries on PostgreSQL at 50,000 members: an index serves every read of the
accounts (``benchmarks/funnel.py`` shows the planner choosing them at 1,000,000)."""

from __future__ import annotations

import pytest

from ..pg import sql_adapter

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_funnel_reads_no_accounts_row_by_row_on_postgres(pg_url: str) -> None:
    sql = sql_adapter()
    from benchmarks import funnel as bench

    engine = sql.postgres_engine(pg_url)
    # Another session's open transaction, as the other test workers' on a shared server:
    # VACUUM then leaves the new pages not all-visible, the planner's worst case.
    bystander = engine.connect()
    try:
        bystander.exec_driver_sql("SELECT txid_current()")
        bench.fill(engine, 50_000)
        funnel, _, ran = bench.timed_funnel(engine)
        assert funnel.steps[0].count == 50_000
        assert funnel.steps[-1].count == 18_000
        assert funnel.link_expired == 1_500
        plans = bench.plans(engine, ran, index_if_any=True)
        # The stage counts, the five medians (four texts), the activation queue, the pages.
        assert len(plans) == 7
        text = "\n".join("\n".join(plan) for plan in plans)
        assert "Seq Scan on cegema_accounts" not in text, text
        assert "Index Only Scan using ix_cegema_accounts_stage_queue_at_account_id" in text
        assert "ix_cegema_audit_action_outcome_account_id_at" in text
    finally:
        bystander.close()
        engine.dispose()


def test_the_plans_are_read_as_sequential_when_they_are() -> None:
    from benchmarks import funnel as bench

    assert bench.seq_scans(["Aggregate", "  ->  Seq Scan on cegema_accounts  (cost=0..1)"])
    assert bench.seq_scans(["SCAN cegema_audit"])
    assert not bench.seq_scans(["Index Only Scan using ix on cegema_accounts"])
    assert not bench.seq_scans(["SCAN cegema_accounts USING COVERING INDEX ix"])
