"""Staff changes of configuration are audited like any other change: creating a site, changing a
procedure's policy and publishing a schedule each leave an entry naming who, what, when and from
where, written with the change itself."""
from datetime import date, timedelta

import pytest

from chalicelib.platform import clock
from chalicelib.rules.errors import Conflict
from tests.support import PROCEDURE, SITE

ADMIN_IP = "192.0.2.20"


def as_admin(api):
    return {**api.staff_headers(), "X-Forwarded-For": ADMIN_IP}


def site_history(api, groups=("agents",), site_id=SITE):
    return api.call("GET", f"/staff/sites/{site_id}/history", headers=api.staff_headers(groups))


def put_policy(api, headers, **values):
    return api.call("PUT", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy", values, headers)


def test_a_policy_change_names_the_admin_the_ip_and_each_changed_field_old_and_new(api):
    api.create_site()
    assert put_policy(api, as_admin(api), hold_ttl_seconds=30, cooldown_seconds=86400).status == 200
    clock.advance(1)
    assert put_policy(api, as_admin(api), hold_ttl_seconds=45, partner_share=0.5).status == 200
    changes = [e for e in site_history(api).body["history"] if e["action"] == "policy_changed"]
    assert [e["entity_id"] for e in changes] == [f"policy#{SITE}#{PROCEDURE}"] * 2
    assert all(e["actor"] == "staff:tester" and e["client_ip"] == ADMIN_IP for e in changes)
    # cooldown_seconds was sent at its current value: not a change.
    assert changes[0]["details"] == {"changes": {"hold_ttl_seconds": {"old": 600, "new": 30}}}
    assert changes[1]["details"] == {"changes": {"hold_ttl_seconds": {"old": 30, "new": 45},
                                                 "partner_share": {"old": 0.0, "new": 0.5}}}
    # Sending the current values again changes nothing, and records nothing.
    assert put_policy(api, as_admin(api), hold_ttl_seconds=45).status == 200
    assert len([e for e in site_history(api).body["history"] if e["action"] == "policy_changed"]) == 2


def test_site_creation_and_a_schedule_are_in_the_site_history_in_order(api):
    api.call("POST", "/staff/sites", {"site_id": SITE, "name": "Préfecture de test", "address": "1 rue de la Loi",
                                      "timezone": "Europe/Paris", "procedures": [{"procedure_id": PROCEDURE, "name": "R"}]},
             as_admin(api))
    api.set_policy(partner_share=1 / 3)
    clock.advance(1)
    day = (date.today() + timedelta(days=2)).isoformat()
    created = api.call("POST", f"/staff/sites/{SITE}/schedules",
                       {"procedure_id": PROCEDURE, "from": day, "to": day, "weekdays": list(range(7)), "opens": "09:00",
                        "closes": "12:00", "slot_minutes": 60, "counters": 1, "publish": "now"}, as_admin(api))
    assert created.status == 201 and created.body == {"created": 3, "existing": 0}
    entries = site_history(api).body["history"]
    assert [e["action"] for e in entries] == ["site_created", "policy_changed", "schedule_published"]
    site_created, _, published = entries
    assert site_created["entity_id"] == published["entity_id"] == f"site#{SITE}"
    assert site_created["client_ip"] == published["client_ip"] == ADMIN_IP
    assert site_created["details"]["procedures"] == [PROCEDURE]
    assert published["actor"] == "staff:tester"
    details = published["details"]
    assert details["procedure_id"] == PROCEDURE and details["publish"] == "now"
    assert details["slots"] == 3 and details["reserved"] == 1  # a third of the day, for partners
    assert details["visible_from"] and details["visible_until"] >= details["visible_from"]


def test_a_refused_change_leaves_no_entry(api):
    api.create_site()
    agent = {**api.staff_headers(groups=("agents",)), "X-Forwarded-For": ADMIN_IP}
    assert put_policy(api, agent, hold_ttl_seconds=30).status == 403
    assert put_policy(api, as_admin(api), hold_ttl_seconds=0).status == 422
    again = api.call("POST", "/staff/sites", {"site_id": SITE, "name": "n", "address": "a", "timezone": "Europe/Paris",
                                              "procedures": [{"procedure_id": "p", "name": "P"}]}, as_admin(api))
    assert again.status == 409
    assert [e["action"] for e in site_history(api).body["history"]] == ["site_created"]
    assert api.call("GET", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy",
                    headers=api.staff_headers()).body["hold_ttl_seconds"] == 600


def test_the_site_history_is_for_staff_only_and_knows_its_sites(api):
    api.create_site()
    assert api.call("GET", f"/staff/sites/{SITE}/history").status == 401
    assert site_history(api, groups=("visitors",)).status in (401, 403)
    assert site_history(api, groups=("admins",)).status == 200
    missing = site_history(api, site_id="nope")
    assert missing.status == 404 and missing.code == "site_not_found"


def test_a_policy_saved_over_a_change_made_since_it_was_read_is_refused(api, monkeypatch):
    """Two admins saving at once: the second is told, so each entry's old values are the real ones."""
    from chalicelib import storage
    from chalicelib.usecases import site_catalog

    api.create_site()
    api.set_policy(hold_ttl_seconds=30)
    read = storage.get_policy(SITE, PROCEDURE)
    clock.advance(1)
    api.set_policy(hold_ttl_seconds=45)
    failed = storage.replace_policy_if_unchanged(SITE, PROCEDURE, {**read.values, "hold_ttl_seconds": 60}, clock.now(),
                                                 read.updated_at)
    assert failed.conditions == {"policy"}
    monkeypatch.setattr(storage, "get_policy", lambda site_id, procedure_id: read)  # read before the other admin saved
    with pytest.raises(Conflict) as refused:
        site_catalog.update_policy(SITE, PROCEDURE, {"hold_ttl_seconds": 60}, clock.now())
    assert refused.value.code == "state_changed"
    monkeypatch.undo()
    assert storage.get_policy(SITE, PROCEDURE).values["hold_ttl_seconds"] == 45
