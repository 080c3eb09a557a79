"""SPEC §6: the DynamoDB work of each operation, counted at botocore so it cannot creep up."""
from tests.support import applicant


def measure(calls, action):
    calls.clear()
    result = action()
    return dict(calls), result


def test_each_operation_makes_one_write_call_after_at_most_one_read(api, calls, monkeypatch):
    # The standby coverage is read once per STANDBY_CACHE_SECONDS: this test counts the calls of a
    # warm process, however slowly a loaded machine runs its steps.
    monkeypatch.setenv("STANDBY_CACHE_SECONDS", "3600")
    slots = api.ready_site()
    for n in (1, 2, 3, 4):
        api.prove(applicant(n))  # R10: the identity tokens first (POST /verifications has its own calls)
    # Warm the per-process catalog cache (sites, policy), as any warm Lambda has it.
    api.confirm(api.hold(slots[0]["slot_id"], applicant(1)).body)
    search, _ = measure(calls, lambda: api.slots())
    assert search == {"Query": 1}

    hold_calls, hold = measure(calls, lambda: api.hold(slots[1]["slot_id"], applicant(2)).body)
    assert hold_calls == {"GetItem": 1, "TransactWriteItems": 1}

    confirm_calls, booking = measure(calls, lambda: api.confirm(hold).body)
    assert confirm_calls == {"GetItem": 1, "TransactWriteItems": 1}

    again_calls, _ = measure(calls, lambda: api.confirm(hold))
    assert again_calls == {"GetItem": 1}  # the same booking again, from the hold alone

    cancel_calls, _ = measure(calls, lambda: api.cancel(booking))
    assert cancel_calls == {"GetItem": 1, "TransactWriteItems": 1}

    other = api.hold(slots[2]["slot_id"], applicant(3)).body
    release_calls, _ = measure(calls, lambda: api.release(other))
    assert release_calls == {"GetItem": 1, "TransactWriteItems": 1}

    refused_calls, _ = measure(calls, lambda: api.hold(slots[2]["slot_id"], applicant(4)))
    assert refused_calls == {"GetItem": 1, "TransactWriteItems": 1, "UpdateItem": 1}  # the refusal counted for its IP


def test_no_request_path_scans(api, calls):
    slots = api.ready_site()
    api.call("GET", "/sites")
    api.slots()
    booking = api.confirm(api.hold(slots[0]["slot_id"], applicant(1)).body).body
    api.booking(booking)
    api.call("GET", f"/staff/sites/test-site/bookings?date={slots[0]['starts_at'][:10]}", headers=api.staff_headers())
    api.cancel(booking)
    assert "Scan" not in calls
