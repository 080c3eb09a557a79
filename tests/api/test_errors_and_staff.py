"""Error envelope, input validation, staff routes and authorization (SPEC §5)."""
import json
import random
import string

import pytest

from chalicelib.platform import clock
from tests.support import PROCEDURE, SITE, applicant, at_the_wire


def _envelope(reply):
    error = reply.body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] and error["message"]
    return error


def test_malformed_json_is_a_400(api):
    for raw in ("{", "[]", "null", "garbage", '"text"', "\xff"):
        reply = api.call("POST", "/holds", raw=raw)
        assert reply.status == 400, (raw, reply)
        assert _envelope(reply)["code"] == "malformed_request"


@pytest.mark.parametrize("change,field", [
    (lambda a: a.pop("birth_date"), "applicant.birth_date"),
    (lambda a: a.update(birth_date="02/01/1990"), "applicant.birth_date"),
    (lambda a: a.update(birth_date="2999-01-01"), "applicant.birth_date"),
    (lambda a: a["document"].update(type="id"), "applicant.document.type"),
    (lambda a: a["document"].update(number="12"), "applicant.document.number"),
    (lambda a: a.update(document="1234567890"), "applicant.document"),
    (lambda a: a.update(email="not-an-email"), "applicant.email"),
    (lambda a: a.update(family_name=""), "applicant.family_name"),
    (lambda a: a.update(given_names=None), "applicant.given_names"),
    (lambda a: a.update(phone="call me"), "applicant.phone"),
])
def test_invalid_applicant_fields_are_422_naming_the_field(api, change, field):
    slot = api.ready_site()[0]
    person = applicant(1)
    change(person)
    reply = api.hold(slot["slot_id"], person)
    assert reply.status == 422, reply
    assert _envelope(reply)["details"] == {"field": field}


def test_unknown_things_are_404(api):
    api.ready_site()
    assert api.hold("slot_nope", applicant(1)).status == 404
    assert api.call("DELETE", "/holds/hold_nope", headers={"X-Hold-Token": "x"}).status == 404
    assert api.call("POST", "/bookings", {"hold_id": "hold_nope", "hold_token": "x"}).status == 404
    assert api.call("GET", "/bookings/bkg_nope", headers={"X-Booking-Token": "x"}).status == 404
    assert api.call("GET", f"/sites/nope/slots?procedure={PROCEDURE}").status == 404
    assert api.call("GET", f"/sites/{SITE}/slots?procedure=nope").status == 404


def test_search_parameters_are_validated(api):
    api.ready_site()
    for query, field in [("", "procedure"), (f"procedure={PROCEDURE}&limit=0", "limit"),
                         (f"procedure={PROCEDURE}&limit=abc", "limit"), (f"procedure={PROCEDURE}&from=yesterday", "from"),
                         (f"procedure={PROCEDURE}&cursor=abc", "cursor"), (f"procedure={PROCEDURE}&cursor=e30", "cursor"),
                         (f"procedure={PROCEDURE}&from=2030-01-02&to=2030-01-01", "to")]:
        reply = api.call("GET", f"/sites/{SITE}/slots?{query}")
        assert reply.status == 422, (query, reply)
        assert _envelope(reply)["details"]["field"] == field


def test_search_pages_through_every_slot_once(api):
    api.create_site()
    api.schedule(days=3, slot_minutes=15, counters=2)  # 3 days x 12 x 2 = 72 slots
    seen, cursor, pages = [], None, 0
    while True:
        extra = f"&cursor={cursor}" if cursor else ""
        body = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=10{extra}").body
        seen += [s["slot_id"] for s in body["slots"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 72
    assert pages >= 8
    starts = [s["starts_at"] for s in api.slots(limit=100)]
    assert starts == sorted(starts)


def test_a_cursor_from_another_search_is_refused(api):
    api.create_site(procedures=("renewal", "student"))
    api.schedule(procedure="renewal", slot_minutes=30)
    cursor = api.call("GET", f"/sites/{SITE}/slots?procedure=renewal&limit=1").body["next_cursor"]
    reply = api.call("GET", f"/sites/{SITE}/slots?procedure=student&cursor={cursor}")
    assert reply.status == 422 and reply.body["error"]["details"]["field"] == "cursor"


def test_a_cursor_outside_the_window_is_never_sent_to_dynamodb(api, monkeypatch):
    """DynamoDB refuses a start key outside the Query's key condition (a 500 if sent). The window
    moves under a cursor: its start is "now" at every page, or the caller changes from/to."""

    api.create_site()
    api.schedule(slot_minutes=30)
    first = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=2").body
    everything = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=100").body["slots"]
    cursor_at = first["slots"][-1]["starts_at"]
    later = [s for s in everything if s["starts_at"] > cursor_at][1]["starts_at"]
    sent = []

    def spy(send, service, operation, params):
        if operation == "Query":
            sent.append(params.get("ExclusiveStartKey"))
        return send()

    at_the_wire(monkeypatch, spy)
    # The window now starts after the cursor: the continuation is the window itself.
    moved = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=100&from={later}&cursor={first['next_cursor']}")
    assert moved.status == 200 and moved.body["slots"][0]["starts_at"] == later and sent == [None]
    # The window now ends before the cursor: nothing follows it.
    ended = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&to={first['slots'][0]['starts_at']}&cursor={first['next_cursor']}")
    assert ended.status == 200 and ended.body["slots"] == [] and ended.body["next_cursor"] is None and sent == [None]


def test_a_path_id_longer_than_any_fairslot_issues_is_not_found(api):
    api.ready_site()
    long = "x" * 3000
    for method, path in [("GET", f"/bookings/{long}"), ("GET", f"/sites/{long}/slots?procedure={PROCEDURE}"),
                         ("DELETE", f"/holds/{long}"), ("GET", f"/staff/slots/{long}/history")]:
        reply = api.call(method, path, headers=api.staff_headers() if "/staff/" in path else None)
        assert (reply.status, reply.code) == (404, "not_found"), (path[:40], reply)


def test_garbage_to_every_route_never_gets_a_5xx(api):
    api.ready_site()
    rng = random.Random(7)
    bodies = ["", "{}", "[]", "null", "1", '{"slot_id": 5}', '{"applicant": []}', '{"hold_id": {"a": 1}}',
              json.dumps({"slot_id": "x" * 5000, "applicant": applicant(1)}), "\u0000\u0001",
              json.dumps({"site_id": "../../etc", "procedures": "x"}), '{"procedure_id": null, "from": 3}']
    bodies += ["".join(rng.choice(string.printable) for _ in range(rng.randint(1, 80))) for _ in range(20)]
    staff = api.staff_headers()
    routes = [("GET", "/health"), ("GET", "/sites"), ("GET", f"/sites/{SITE}/slots?procedure=%00&from=%ff"),
              ("POST", "/holds"), ("DELETE", "/holds/x"), ("POST", "/bookings"), ("GET", "/bookings/x"),
              ("DELETE", "/bookings/x"), ("POST", "/staff/sites"), ("PUT", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy"),
              ("GET", f"/staff/sites/{SITE}/procedures/x/policy"), ("POST", f"/staff/sites/{SITE}/schedules"),
              ("GET", f"/staff/sites/{SITE}/bookings?date=garbage"), ("GET", f"/staff/sites/{SITE}/history"),
              ("GET", "/staff/sites/%00%ff/history")]
    for method, path in routes:
        for body in bodies:
            for headers in ({}, staff, {"Content-Type": "text/plain", "X-Hold-Token": body[:50], **staff}):
                reply = api.call(method, path, raw=body if method in ("POST", "PUT") else None, headers=headers)
                assert reply.status < 500, (method, path, body, reply)
                if reply.status >= 400:
                    _envelope(reply)


# --- staff ----------------------------------------------------------------------------------

def test_staff_routes_need_a_valid_token_of_the_right_group(api):
    api.ready_site()
    path = f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy"
    assert api.call("GET", path).status == 401
    assert api.call("GET", path, headers={"Authorization": "Bearer not.a.jwt"}).status == 401
    assert api.call("GET", path, headers=api.staff_headers(groups=("visitors",))).status == 403
    assert api.call("GET", path, headers=api.staff_headers(groups=("agents",))).status == 200
    assert api.call("PUT", path, {"cooldown_seconds": 5}, api.staff_headers(groups=("agents",))).status == 403
    assert api.call("PUT", path, {"cooldown_seconds": 5}, api.staff_headers(groups=("admins",))).status == 200


def test_a_token_signed_with_another_secret_is_refused(api):
    from tests.support import Api

    forger = Api(api.transport, staff_secret="x" * 40)
    assert api.call("POST", "/staff/sites", {"name": "x"}, forger.staff_headers()).status == 401


def test_policy_defaults_come_from_configuration_and_updates_are_checked(api):
    api.create_site()
    path = f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy"
    policy = api.call("GET", path, headers=api.staff_headers()).body
    assert policy["hold_ttl_seconds"] == 600 and policy["cooldown_seconds"] == 86400
    assert policy["allocation"] == "auto"  # SPEC §4: auto is the default
    updated = api.set_policy(hold_ttl_seconds=5)
    assert updated["hold_ttl_seconds"] == 5 and updated["cooldown_seconds"] == 86400
    bad = api.call("PUT", path, {"quarantine_min_seconds": "soon"}, api.staff_headers())
    assert bad.status == 422 and bad.body["error"]["details"]["field"] == "quarantine_min_seconds"


def test_a_new_policy_applies_to_the_next_hold(api):
    slot = api.ready_site()[0]
    api.set_policy(hold_ttl_seconds=30)
    hold = api.hold(slot["slot_id"], applicant(1)).body
    expires = clock.epoch_of(hold["expires_at"])
    assert 25 <= expires - clock.now() <= 31


def test_sites_are_created_once_and_listed(api):
    api.create_site()
    again = api.call("POST", "/staff/sites", {"site_id": SITE, "name": "n", "address": "a", "timezone": "Europe/Paris",
                                              "procedures": [{"procedure_id": "p", "name": "P"}]}, api.staff_headers())
    assert again.status == 409
    bad_tz = api.call("POST", "/staff/sites", {"name": "n", "address": "a", "timezone": "Mars/Olympus",
                                               "procedures": [{"procedure_id": "p", "name": "P"}]}, api.staff_headers())
    assert bad_tz.status == 422 and bad_tz.body["error"]["details"]["field"] == "timezone"
    sites = api.call("GET", "/sites").body["sites"]
    assert [s["site_id"] for s in sites] == [SITE]
    assert sites[0]["procedures"] == [{"procedure_id": PROCEDURE, "name": "Renewal", "allocation": "auto",
                                       "accepted_documents": ["agdref"], "identity_check": "registry",
                                       "cooldown_seconds": 86400}]


def test_schedules_create_slots_per_counter(api):
    api.create_site()
    assert api.schedule(days=2, slot_minutes=30, counters=3) == 2 * 6 * 3
    assert len(api.all_slot_ids()) == 36
    bad = api.call("POST", f"/staff/sites/{SITE}/schedules", {"procedure_id": PROCEDURE, "from": "2030-01-01",
                   "to": "2030-01-01", "opens": "12:00", "closes": "09:00", "slot_minutes": 30}, api.staff_headers())
    assert bad.status == 422 and bad.body["error"]["details"]["field"] == "closes"


def test_random_window_publication_reveals_slots_progressively(api):
    api.create_site()
    api.set_policy(publish_window_seconds=3600)
    created = api.schedule(days=2, slot_minutes=15, publish="random_window")
    assert created == 24
    visible = [len(api.all_slot_ids())]
    for _ in range(4):
        clock.advance(900)
        visible.append(len(api.all_slot_ids()))
    assert visible == sorted(visible)
    assert visible[0] < created and visible[-1] == created
    assert len(set(visible)) >= 3  # not one fixed publication hour


def test_the_day_list_shows_the_day_bookings(api):
    slot = api.ready_site()[0]
    booking = api.confirm(api.hold(slot["slot_id"], applicant(1)).body).body
    day = slot["starts_at"][:10]
    listed = api.call("GET", f"/staff/sites/{SITE}/bookings?date={day}", headers=api.staff_headers(groups=("agents",)))
    assert listed.status == 200
    assert [(b["booking_id"], b["family_name"], b["status"]) for b in listed.body["bookings"]] == \
        [(booking["booking_id"], "Family1", "booked")]
    other_day = api.call("GET", f"/staff/sites/{SITE}/bookings?date=2000-01-01", headers=api.staff_headers())
    assert other_day.body["bookings"] == []


def test_cors_allows_the_configured_origins_only(api):
    ok = api.call("GET", "/sites", headers={"Origin": "http://localhost:8080"})
    assert ok.headers.get("access-control-allow-origin") == "http://localhost:8080"
    other = api.call("GET", "/sites", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = api.call("OPTIONS", "/holds", headers={"Origin": "http://127.0.0.1:8080"})
    assert preflight.status == 204 and "X-Hold-Token" in preflight.headers["access-control-allow-headers"]
