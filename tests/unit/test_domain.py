"""The anti-scalping rules as pure functions: no engine, no HTTP."""
import random
from dataclasses import replace
from datetime import date, time

import pytest

from chalicelib.rules import identity_keys, lifecycle, policies
from chalicelib.rules.errors import InvalidValue

POLICY = policies.Policy()
DAY = 86400


def test_quarantine_ends_within_the_policy_window():
    rng = random.Random(1)
    now, starts = 1_000_000, 1_000_000 + 30 * DAY
    ends = [lifecycle.quarantine_end(now, starts, POLICY, rng) - now for _ in range(2000)]
    assert min(ends) >= POLICY.quarantine_min_seconds
    assert max(ends) <= POLICY.quarantine_max_seconds
    assert max(ends) - min(ends) > 0.9 * (POLICY.quarantine_max_seconds - POLICY.quarantine_min_seconds)


def test_quarantine_shrinks_near_the_appointment_so_the_slot_still_comes_back():
    rng = random.Random(2)
    now = 1_000_000
    starts = now + 3600  # one hour before the appointment
    for _ in range(500):
        end = lifecycle.quarantine_end(now, starts, POLICY, rng)
        assert now <= end <= now + 1800


def test_a_lapsed_hold_frees_its_slot_no_sooner_than_a_released_one():
    rng = random.Random(3)
    now, starts = 0, 60 * DAY
    expires, available = lifecycle.hold_terms(now, starts, POLICY, rng)
    assert expires == POLICY.hold_ttl_seconds
    assert available - expires >= POLICY.quarantine_min_seconds


def test_cooldown_runs_from_the_moment_the_hold_or_booking_was_let_go():
    assert lifecycle.cooldown_until(500, POLICY) == 500 + POLICY.cooldown_seconds


def test_retry_after_is_a_whole_positive_number_of_seconds():
    assert lifecycle.retry_after_seconds(100.2, 100) == 1
    assert lifecycle.retry_after_seconds(110.0, 100) == 10
    assert lifecycle.retry_after_seconds(90, 100) == 1


def test_random_publication_spreads_slots_over_the_window():
    rng = random.Random(4)
    policy = policies.policy_with(POLICY, {"publish_window_seconds": 3600})
    instants = lifecycle.publication_instants(0, 1000, policy, "random_window", rng)
    assert all(0 <= t <= 3600 for t in instants)
    assert len({round(t) for t in instants}) > 500
    assert lifecycle.publication_instants(7, 3, policy, "now", rng) == [7, 7, 7]


def test_schedule_times_follow_the_site_timezone_and_weekdays():
    # Monday 2026-03-30 (after the DST change) and Friday 2026-03-27 (before it)
    times = lifecycle.schedule_slot_times("Europe/Paris", date(2026, 3, 27), date(2026, 3, 30), {0, 4},
                                       time(9, 0), time(10, 0), 30, 2)
    assert len(times) == 2 * 2 * 2
    assert times[0][0].isoformat() == "2026-03-27T08:00:00+00:00"  # UTC+1
    assert times[-1][0].isoformat() == "2026-03-30T07:30:00+00:00"  # UTC+2


def test_policy_changes_are_checked_field_by_field():
    assert policies.policy_with(POLICY, {"hold_ttl_seconds": 2}).hold_ttl_seconds == 2
    for bad, concept in (({"hold_ttl_seconds": 0}, "hold_ttl_seconds"), ({"hold_ttl_seconds": "600"}, "hold_ttl_seconds"),
                         ({"allocation": "lottery"}, "allocation"), ({"unknown": 1}, "unknown"), ({"partner_share": 2}, "partner_share"),
                         ({"quarantine_min_seconds": 10, "quarantine_max_seconds": 5}, "quarantine_min_seconds"),
                         ({"cooldown_seconds": True}, "cooldown_seconds"), ({"hold_ttl_seconds": 1.5}, "hold_ttl_seconds")):
        with pytest.raises(InvalidValue) as info:
            policies.policy_with(POLICY, bad)
        assert info.value.concept == concept  # a policy field's name is its concept


def test_document_numbers_are_normalised_before_hashing():
    key = identity_keys.identity_key("s", "agdref", "12 345-678.90", date(1990, 1, 2))
    assert key == identity_keys.identity_key("s", "agdref", "1234567890", date(1990, 1, 2))
    assert key != identity_keys.identity_key("s", "agdref", "1234567890", date(1990, 1, 3))
    assert key != identity_keys.identity_key("other secret", "agdref", "1234567890", date(1990, 1, 2))
    assert "1234567890" not in key


def test_a_passport_and_a_visa_with_the_same_number_are_one_identity():
    assert identity_keys.identity_key("s", "passport", "ab123456", date(1990, 1, 2)) == \
        identity_keys.identity_key("s", "visa", "AB 123456", date(1990, 1, 2))


@pytest.mark.parametrize("doc_type,number", [("agdref", "123"), ("agdref", "12345678901"), ("passport", "A*B"),
                                             ("id_card", "1234567890"), ("agdref", 1234567890)])
def test_invalid_documents_are_refused_naming_the_document_type_or_number(doc_type, number):
    with pytest.raises(InvalidValue) as info:
        identity_keys.normalise_document(doc_type, number)
    assert info.value.concept == ("document_type" if doc_type == "id_card" else "document_number")
    assert "applicant" not in info.value.message and "." not in info.value.concept


def test_birth_dates_must_be_plausible():
    today = date(2026, 1, 1)
    assert identity_keys.check_birth_date(date(1990, 5, 1), today) == date(1990, 5, 1)
    for bad in (date(2026, 1, 1), date(2030, 1, 1), date(1800, 1, 1)):
        with pytest.raises(InvalidValue) as info:
            identity_keys.check_birth_date(bad, today)
        assert info.value.concept == "birth_date"


def test_per_ip_counters_use_fixed_hour_windows():
    assert lifecycle.hour_window(7200 + 59) == (7200, 10800)


# --- auto allocation: where a freed slot goes (R3 + R6) ----------------------------------------

AUTO = policies.Policy(allocation="auto", draw_interval_seconds=3600, offer_ttl_seconds=600)
FAR = 10 * DAY  # an appointment far enough for a draw, an offer and a release window


def test_a_slot_freed_while_a_live_request_covers_its_day_goes_to_the_next_draw():
    assert lifecycle.route_freed_slot(AUTO, True, 0, FAR) == lifecycle.TO_DRAW
    # The draw may take it at once; search never shows it by itself (only a draw releases it).
    assert lifecycle.freed_slot_terms(5, FAR, AUTO, True, random.Random(1)) == (FAR, 5)
    assert lifecycle.freed_slot_terms(5, FAR, replace(AUTO, allocation="draw"), False, random.Random(1)) == (5, None)


def test_a_slot_freed_while_nobody_waits_goes_to_search_after_a_random_quarantine():
    assert lifecycle.route_freed_slot(AUTO, False, 0, FAR) == lifecycle.TO_SEARCH
    backs = {lifecycle.freed_slot_terms(0, FAR, AUTO, False, random.Random(seed))[0] for seed in range(50)}
    assert min(backs) >= AUTO.quarantine_min_seconds and max(backs) <= AUTO.quarantine_max_seconds and len(backs) == 50


def test_fcfs_never_routes_to_a_draw_and_draw_mode_always_does():
    fcfs, draw = replace(AUTO, allocation="fcfs"), replace(AUTO, allocation="draw")
    assert lifecycle.route_freed_slot(fcfs, True, 0, FAR) == lifecycle.TO_SEARCH
    assert lifecycle.route_freed_slot(draw, False, 0, FAR) == lifecycle.TO_DRAW


def test_a_slot_freed_too_close_for_a_draw_and_an_offer_stays_with_the_counter():
    left = AUTO.draw_interval_seconds + AUTO.offer_ttl_seconds
    assert lifecycle.route_freed_slot(AUTO, True, 0, left) == lifecycle.TO_DRAW
    assert lifecycle.route_freed_slot(AUTO, True, 0, left - 1) == lifecycle.TO_COUNTER
    assert lifecycle.freed_slot_terms(0, left - 1, AUTO, True, random.Random(1)) is None


def test_the_release_window_near_the_appointment_never_shrinks_to_a_point():
    for left in (3 * 3600, 3600, 40 * 60, 2 * POLICY.release_window_min_seconds):
        low, high = lifecycle.release_window(0, left, POLICY)
        assert high - low >= POLICY.release_window_min_seconds and high <= left / 2, left
        instants = {lifecycle.quarantine_end(0, left, POLICY, random.Random(seed)) for seed in range(100)}
        assert max(instants) - min(instants) > 0.8 * POLICY.release_window_min_seconds


def test_a_slot_freed_too_close_for_a_release_window_is_not_re_offered():
    left = 2 * POLICY.release_window_min_seconds - 1
    assert lifecycle.release_window(0, left, POLICY) is None
    assert lifecycle.route_freed_slot(POLICY, False, 0, left) == lifecycle.TO_COUNTER
    assert lifecycle.quarantine_end(0, left, POLICY, random.Random(1)) is None


def test_a_hold_lapsing_too_close_to_the_start_leaves_its_slot_to_the_counter():
    starts = POLICY.hold_ttl_seconds + 60
    _, available = lifecycle.hold_terms(0, starts, POLICY, random.Random(1))
    assert available == starts  # never holdable again: nothing is, once the slot has started


def test_a_request_covers_the_days_of_its_range():
    ranges = [("2030-01-07", "2030-01-09")]
    assert lifecycle.covers(ranges, "2030-01-07") and lifecycle.covers(ranges, "2030-01-09")
    assert not lifecycle.covers(ranges, "2030-01-10") and not lifecycle.covers([], "2030-01-07")


def test_auto_is_a_policy_value_and_the_default():
    assert policies.Policy().allocation == "auto"
    assert policies.policy_with(POLICY, {"allocation": "auto"}).allocation == "auto"
    with pytest.raises(InvalidValue):
        policies.policy_with(POLICY, {"allocation": "first"})


def test_a_day_is_the_utc_day_whatever_the_process_time_zone(monkeypatch):
    """date.fromtimestamp would give the laptop's local day: 23:30 UTC is already tomorrow in Paris."""
    import time

    from chalicelib.platform import clock

    instant = 1796167800  # 2026-12-01T23:30:00Z
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14
    time.tzset()
    try:
        assert clock.utc_date(instant).isoformat() == "2026-12-01"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
