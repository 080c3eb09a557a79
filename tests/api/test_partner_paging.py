"""A partner's own bookings, page by page (GET /partner/bookings?limit=&cursor=)."""
import base64
import json

from tests.support import applicant


def partner_with_bookings(api, n, name="mine", first_person=1):
    """A partner with `n` bookings, each for another beneficiary, on slots a quarter-hour apart."""
    partner = api.create_partner(name)
    slots = api.partner_slots(partner)
    booked = [api.partner_book(partner, slots[i]["slot_id"], applicant(first_person + i)) for i in range(n)]
    return partner, booked


def site_of_quarter_hours(api):
    api.create_site()
    api.set_policy(partner_share=0)
    api.schedule(slot_minutes=15)  # 12 slots, 09:00 to 11:45


def page(api, partner, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.call("GET", f"/partner/bookings?{query}", headers=api.partner_headers(partner))


def test_a_partner_walks_all_its_bookings_page_by_page_each_once_soonest_first(api):
    site_of_quarter_hours(api)
    partner, booked = partner_with_bookings(api, 7)
    seen, cursor, sizes = [], None, []
    while True:
        reply = page(api, partner, limit=3, **({"cursor": cursor} if cursor else {}))
        assert reply.status == 200, reply
        seen += reply.body["bookings"]
        sizes.append(len(reply.body["bookings"]))
        cursor = reply.body["next_cursor"]
        if cursor is None:
            break
    assert sizes == [3, 3, 1]
    assert sorted(b["booking_id"] for b in seen) == sorted(b["booking_id"] for b in booked)
    starts = [b["slot"]["starts_at"] for b in seen]
    assert starts == sorted(starts) and len(set(starts)) == 7


def test_one_page_of_fifty_by_default_and_the_limit_is_checked(api):
    site_of_quarter_hours(api)
    partner, booked = partner_with_bookings(api, 2)
    reply = page(api, partner)
    assert reply.status == 200 and len(reply.body["bookings"]) == 2 and reply.body["next_cursor"] is None
    for limit in (0, 101, "abc", "-1"):
        refused = page(api, partner, limit=limit)
        assert refused.status == 422 and refused.body["error"]["details"] == {"field": "limit"}, (limit, refused)


def test_a_garbled_or_foreign_cursor_is_refused_in_the_envelope(api):
    site_of_quarter_hours(api)
    partner, _ = partner_with_bookings(api, 2)
    search_cursor = api.call("GET", "/partner/sites/test-site/slots?procedure=renewal&limit=1",
                             headers=api.partner_headers(partner)).body["next_cursor"]
    wrong_keys = base64.urlsafe_b64encode(json.dumps({"booking_id": {"S": "x"}}).encode()).decode()
    for cursor in ("abc", "e30", "%00%ff", wrong_keys, search_cursor):
        reply = page(api, partner, limit=1, cursor=cursor)
        assert reply.status == 422, (cursor, reply)
        assert reply.body["error"]["code"] == "invalid_field" and reply.body["error"]["details"] == {"field": "cursor"}


def test_a_cursor_of_another_partner_never_shows_its_bookings(api):
    site_of_quarter_hours(api)
    mine, my_bookings = partner_with_bookings(api, 4, "mine")
    theirs, their_bookings = partner_with_bookings(api, 1, "theirs", first_person=100)
    my_cursor = page(api, mine, limit=2).body["next_cursor"]
    assert my_cursor
    reply = page(api, theirs, limit=2, cursor=my_cursor)
    assert reply.status == 422 and reply.body["error"]["details"] == {"field": "cursor"}
    # The cursor is sealed: it cannot be read, so there is no partner in it to rewrite.
    raw = base64.urlsafe_b64decode(my_cursor + "=" * (-len(my_cursor) % 4))
    assert theirs["partner_id"].encode() not in raw and mine["partner_id"].encode() not in raw
    assert page(api, mine, limit=2, cursor=my_cursor).status == 200
