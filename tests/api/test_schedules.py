"""Publishing a schedule (POST /staff/sites/{site}/schedules) is safe to repeat: a slot is one
counter's one opening, so a retry after a failure, or the same period with more counters, never
doubles a slot nor brings back a closed one."""
from chalicelib.rules.errors import StorageUnavailable
from chalicelib.storage.transaction import Transaction
from tests.support import PROCEDURE, SITE


def test_publishing_the_same_schedule_again_creates_nothing(api):
    api.create_site()
    assert api.schedule() == 3
    first = sorted(s["slot_id"] for s in api.slots())
    assert api.schedule() == 0
    assert sorted(s["slot_id"] for s in api.slots()) == first


def test_more_counters_for_the_same_period_add_only_the_new_counters(api):
    api.create_site()
    assert api.schedule(counters=1) == 3
    assert api.schedule(counters=2) == 3
    slots = api.slots()
    assert len(slots) == 6 and len({s["starts_at"] for s in slots}) == 3


def test_a_closed_slot_is_not_brought_back_by_publishing_again(api):
    api.create_site()
    api.schedule()
    closed = api.slots()[0]["slot_id"]
    assert api.call("POST", f"/staff/slots/{closed}/close", headers=api.staff_headers(("agents",))).status == 200
    assert api.schedule() == 0
    assert closed not in {s["slot_id"] for s in api.slots()} and len(api.slots()) == 2


def test_a_retry_after_a_failure_midway_completes_the_schedule_once(api, monkeypatch):
    api.create_site()
    real_commit = Transaction.commit
    commits = []

    def flaky(self):
        commits.append(self)
        if len(commits) == 3:  # the audit entry, one group of slots, then a group fails: throttled, say
            raise StorageUnavailable()
        return real_commit(self)

    monkeypatch.setattr(Transaction, "commit", flaky)
    failed = api.call("POST", f"/staff/sites/{SITE}/schedules", {**schedule_body(), "counters": 3}, api.staff_headers())
    assert failed.status == 503 and failed.headers.get("retry-after")
    monkeypatch.setattr(Transaction, "commit", real_commit)
    retried = api.call("POST", f"/staff/sites/{SITE}/schedules", {**schedule_body(), "counters": 3}, api.staff_headers())
    assert retried.status == 201 and retried.body["created"] + retried.body["existing"] == 9
    assert retried.body["existing"] >= 1 and retried.body["created"] >= 1
    # The public figures count each slot once: a group's counter is in its slots' transaction.
    assert api.call("GET", f"/stats/{SITE}").body["procedures"][PROCEDURE]["published"] == 9
    slots = api.slots()
    assert len(slots) == 9 and len({s["slot_id"] for s in slots}) == 9
    history = api.call("GET", f"/staff/sites/{SITE}/history", headers=api.staff_headers()).body["history"]
    assert [e["action"] for e in history].count("schedule_published") == 2  # the attempt and the retry


def test_slot_ids_cannot_be_computed_without_the_server_secret(api):
    from chalicelib.rules import lifecycle

    a = lifecycle.slot_id("secret-a", SITE, PROCEDURE, "2026-12-01T08:00:00Z", 0)
    assert a == lifecycle.slot_id("secret-a", SITE, PROCEDURE, "2026-12-01T08:00:00Z", 0)
    assert a != lifecycle.slot_id("secret-b", SITE, PROCEDURE, "2026-12-01T08:00:00Z", 0)
    assert a != lifecycle.slot_id("secret-a", SITE, PROCEDURE, "2026-12-01T08:00:00Z", 1)
    assert a.startswith("slot_") and len(a) == 29


def schedule_body():
    from datetime import date, timedelta

    first = date.today() + timedelta(days=2)
    return {"procedure_id": PROCEDURE, "from": first.isoformat(), "to": first.isoformat(),
            "weekdays": [0, 1, 2, 3, 4, 5, 6], "opens": "09:00", "closes": "12:00", "slot_minutes": 60,
            "publish": "now"}
