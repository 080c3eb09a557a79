"""Pure rules of partners and staff oversight (chalicelib.rules.oversight, notify.kind_of_change): partner share, quota
window, check-in, signals."""
import random

from chalicelib.rules import oversight, policies
from chalicelib.usecases import notify


def test_the_partner_share_is_a_rounded_random_share_of_each_day():
    days = {"2030-01-07": [f"a{i}" for i in range(10)], "2030-01-08": [f"b{i}" for i in range(3)]}
    chosen = oversight.reserved_slot_ids(days, 0.25, random.Random(1))
    assert len([s for s in chosen if s.startswith("a")]) == 2  # round(2.5) == 2 (banker's), never more than the day
    assert len([s for s in chosen if s.startswith("b")]) == 1
    assert oversight.reserved_slot_ids(days, 0, random.Random(1)) == set()
    assert oversight.reserved_slot_ids(days, 1.0, random.Random(1)) == set(days["2030-01-07"] + days["2030-01-08"])
    picks = {frozenset(oversight.reserved_slot_ids({"d": ["x", "y", "z", "w"]}, 0.25, random.Random(seed))) for seed in range(50)}
    assert len(picks) == 4  # every slot can be the reserved one


def test_reserved_slots_go_public_at_a_random_instant_before_the_lead_time():
    policy = policies.Policy(partner_release_lead_seconds=7200, release_window_min_seconds=900)
    instants = [oversight.reserved_until(100_000, policy, random.Random(seed)) for seed in range(200)]
    assert all(91_900 <= until <= 92_800 for until in instants)
    assert max(instants) - min(instants) > 0.9 * 900  # spread over the window, not one instant


def test_the_partner_quota_counts_in_fixed_utc_days():
    start, end = oversight.day_window(86400 * 3 + 5)
    assert (start, end) == (86400 * 3, 86400 * 4)


def test_check_in_compares_identity_keys():
    assert oversight.check_in_status(oversight.identities_match("a" * 64, "a" * 64)) == "attended"
    assert oversight.check_in_status(oversight.identities_match("a" * 64, "b" * 64)) == "refused"


def test_disposable_domains_are_recognised_with_subdomains():
    assert oversight.is_disposable("x@yopmail.com") and oversight.is_disposable("x@mx.Mailinator.com")
    assert not oversight.is_disposable("x@example.org") and not oversight.is_disposable("x@notyopmail.com")


def test_signals_report_only_what_crosses_a_threshold():
    summary = oversight.summarize_signals([
        {"kind": "ip", "subject": "1.2.3.4#09", "n": 3, "identities": {"a", "b"}},
        {"kind": "ip", "subject": "1.2.3.4#10", "n": 2, "identities": {"b", "c"}},
        {"kind": "ip", "subject": "5.6.7.8#10", "n": 9, "identities": {"a", "b"}},
        {"kind": "cooldown", "subject": "site", "n": 4},
        {"kind": "cooldown", "subject": "other", "n": 1},
        {"kind": "partner", "subject": "ptn_busy", "booked": 10, "cancelled": 1},
        {"kind": "partner", "subject": "ptn_odd", "booked": 4, "cancelled": 0},
        {"kind": "partner", "subject": "ptn_odd", "booked": 1, "cancelled": 3},
        {"kind": "email_domain", "subject": "yopmail.com", "n": 2},
    ])
    assert summary["identities_per_ip"] == [{"client_ip": "1.2.3.4", "identities": 3, "holds": 5, "requests": 0}]
    assert summary["cooldown_refusals"] == 5
    assert summary["partner_cancellations"] == [{"partner_id": "ptn_odd", "booked": 5, "cancelled": 3, "rate": 0.6}]
    assert summary["disposable_email_domains"] == [{"domain": "yopmail.com", "holds": 2, "requests": 0}]


def test_the_identities_behind_one_ip_are_counted_over_the_hours_of_the_day_holds_and_requests_alike():
    items = [
        {"kind": "ip", "subject": "1.2.3.4#09", "n": 2, "identities": {"a", "b"}},
        {"kind": "ip", "subject": "1.2.3.4#10", "requests": 2, "identities": {"b", "c", "d"}},
        {"kind": "ip", "subject": "5.6.7.8#10", "n": 9, "identities": {"a", "b"}},
        {"kind": "ip", "subject": "9.9.9.9#11", "requests": 3, "identities": {"x", "y", "z"}},
        {"kind": "email_domain", "subject": "yopmail.com", "n": 7},
    ]
    assert oversight.many_identities_per_ip(items) == (4, 2)  # at the threshold (3) counts
    assert oversight.summarize_signals(items)["identities_per_ip"] == [
        {"client_ip": "1.2.3.4", "identities": 4, "holds": 2, "requests": 2},
        {"client_ip": "9.9.9.9", "identities": 3, "holds": 0, "requests": 3},
    ]
    assert oversight.many_identities_per_ip(items[2:3]) == (2, 0)  # below the threshold: the maximum still shows
    assert oversight.many_identities_per_ip([]) == (0, 0)


def test_which_booking_changes_are_notified():
    booked = {"status": "booked"}
    assert notify.kind_of_change("INSERT", None, booked) == "confirmation"
    assert notify.kind_of_change("MODIFY", booked, {"status": "cancelled"}) == "cancellation"
    assert notify.kind_of_change("MODIFY", booked, {"status": "closed"}) == "closure"
    assert notify.kind_of_change("MODIFY", booked, {"status": "booked", "reminded_at": 5}) == "reminder"
    assert notify.kind_of_change("MODIFY", booked, {"status": "attended"}) is None
    assert notify.kind_of_change("MODIFY", {**booked, "reminded_at": 5}, {"status": "booked", "reminded_at": 5}) is None
    assert notify.kind_of_change("REMOVE", booked, None) is None  # TTL purge
