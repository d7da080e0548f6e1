"""Incremental windows of pulled sources: recorded once per date in the lake, reused by a rerun."""

from datetime import UTC, date, datetime

from ingestion.windows import EntityFetch, planned_window, record_window, time_window_end

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)


def test_windows_chain_and_a_rerun_reuses_the_recorded_window(lake_settings):
    first, recorded = planned_window("api", "orders", D1, "1970-01-01T00:00:00Z", "2026-03-02T00:00:00Z")
    assert not recorded and first.start == "1970-01-01T00:00:00Z"
    assert record_window("api", EntityFetch("orders", first, ["p1.json"], 3), D1)
    assert not record_window("api", EntityFetch("orders", first, ["p1.json"], 3), D1)  # exactly once

    again, recorded = planned_window("api", "orders", D1, "1970-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    assert recorded and again == first

    second, recorded = planned_window("api", "orders", D2, "1970-01-01T00:00:00Z", "2026-03-03T00:00:00Z")
    assert not recorded and second.start == first.end == "2026-03-02T00:00:00Z"


def test_a_backfilled_date_never_overlaps_a_later_window(lake_settings):
    d3 = date(2026, 3, 3)
    first, _ = planned_window("api", "orders", D1, "0", "100")
    record_window("api", EntityFetch("orders", first), D1)
    third, _ = planned_window("api", "orders", d3, "0", "300")
    record_window("api", EntityFetch("orders", third), d3)
    assert third.start == "100"
    second, recorded = planned_window("api", "orders", D2, "0", "200")  # D2 pulled after D3
    assert not recorded and second.start == second.end == "100"  # empty: D3 already covered 100 on


def test_a_window_never_ends_in_the_future():
    now = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert time_window_end(D1, now) == "2026-03-01T12:30:00Z"
    assert time_window_end(D1, datetime(2026, 3, 5, tzinfo=UTC)) == "2026-03-02T00:00:00Z"
