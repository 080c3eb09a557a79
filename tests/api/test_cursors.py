"""Search and partner cursors are sealed: they never name a slot the search hid, and any other
cursor (edited, truncated, garbage, another list's) is a 422 naming `cursor`, never a 500."""
import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.platform import clock
from chalicelib.storage.models import Slot
from tests.support import PROCEDURE, SITE, applicant


def _raw(cursor):
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def _b64(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _search(api, cursor=None, procedure=PROCEDURE, limit=1):
    extra = f"&cursor={cursor}" if cursor else ""
    return api.call("GET", f"/sites/{SITE}/slots?procedure={procedure}&limit={limit}{extra}")


def _site_with_hidden_slots(api):
    """Slots published now, slots published at a later random instant, and slots in quarantine,
    interleaved over the same days (two counters, one published each way)."""
    api.create_site()
    api.set_policy(publish_window_seconds=86400, quarantine_min_seconds=7200, quarantine_max_seconds=9000)
    api.schedule(days=2, slot_minutes=30, counters=1, publish="now")
    api.schedule(days=2, slot_minutes=30, counters=2, publish="random_window")
    visible = api.slots()
    for n, slot in enumerate(visible[::3]):
        assert api.release(api.hold(slot["slot_id"], applicant(n)).body).status == 204
    clock.advance(1)
    everything = {s.slot_id: s for s in Slot.scan()}
    now = clock.now()
    hidden = {i for i, s in everything.items() if s.available_from > now}
    quarantined = {i for i in hidden if everything[i].freed_count}
    assert quarantined and hidden - quarantined  # both kinds are there
    return hidden


def test_paging_one_slot_at_a_time_never_reveals_a_hidden_slot(api):
    hidden = _site_with_hidden_slots(api)
    cursor, seen, sizes = None, [], []
    while True:
        reply = _search(api, cursor)
        assert reply.status == 200, reply
        sizes.append(len(reply.body["slots"]))
        seen += [s["slot_id"] for s in reply.body["slots"]]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            break
        raw = _raw(cursor)
        for slot_id in hidden | set(seen):
            assert slot_id.encode() not in raw and slot_id.encode() not in cursor.encode()
        assert b"slot_id" not in raw and b"starts_at" not in raw
    assert set(sizes[:-1]) == {1}  # every page but the last is full: hidden slots shorten none
    assert seen and not set(seen) & hidden
    for n, slot_id in enumerate(seen):  # every slot a page showed is bookable
        assert api.hold(slot_id, applicant(100 + n)).status == 201


def test_every_edited_byte_of_a_cursor_is_refused(api):
    api.ready_site()
    cursor = _search(api).body["next_cursor"]
    assert _search(api, cursor).status == 200
    raw = _raw(cursor)
    for i in range(len(raw)):
        edited = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1:]
        reply = _search(api, _b64(edited))
        assert reply.status == 422 and reply.body["error"]["details"] == {"field": "cursor"}, (i, reply)
    for truncated in (raw[:-1], raw[:12], raw[1:], raw + b"\0"):
        assert _search(api, _b64(truncated)).status == 422


def test_a_cursor_is_bound_to_its_list(api):
    api.create_site(procedures=("renewal", "student"))
    api.schedule(procedure="renewal")
    api.schedule(procedure="student")
    partner = api.create_partner()
    search = _search(api).body["next_cursor"]
    other = _search(api, procedure="student").body["next_cursor"]
    partner_search = api.call("GET", f"/partner/sites/{SITE}/slots?procedure={PROCEDURE}&limit=1",
                              headers=api.partner_headers(partner)).body["next_cursor"]
    assert search and other and partner_search
    assert _search(api, other).code == "invalid_field"
    assert _search(api, search, procedure="student").code == "invalid_field"
    bookings = api.call("GET", f"/partner/bookings?limit=1&cursor={search}", headers=api.partner_headers(partner))
    assert bookings.status == 422 and bookings.body["error"]["details"] == {"field": "cursor"}
    # The partner's search and the public one are the same list (the same index partition).
    assert _search(api, partner_search).status == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cursor=st.one_of(
    st.binary(min_size=0, max_size=120).map(_b64),
    st.text(min_size=1, max_size=80),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", min_size=1, max_size=200),
))
def test_any_other_cursor_is_a_422_never_a_500(api, cursor):
    from urllib.parse import quote

    if not getattr(api, "site_ready", False):  # the fixture is shared by every example
        api.ready_site()
        api.site_ready = True
    if not cursor:
        return
    reply = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=1&cursor={quote(cursor, safe='')}")
    assert reply.status == 422, (cursor, reply)
    assert reply.body["error"]["code"] == "invalid_field" and reply.body["error"]["details"] == {"field": "cursor"}


def _one_slot_window(api, slot, limit=1):
    from datetime import datetime, timedelta
    from urllib.parse import quote

    starts = datetime.fromisoformat(slot["starts_at"])
    window = f"&from={quote(starts.isoformat())}&to={quote((starts + timedelta(minutes=1)).isoformat())}"
    return api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit={limit}{window}").body


def test_a_short_page_tells_a_quarantined_slot_from_a_booked_one_by_nothing(api):
    """limit=1 over one slot's window: a quarantined slot (still in the search index, hidden by the
    filter) and a booked one (out of the index) answer the same page, with no cursor."""
    first, second = api.ready_site(quarantine_min_seconds=7200, quarantine_max_seconds=9000)[:2]
    assert api.release(api.hold(first["slot_id"], applicant(1)).body).status == 204  # quarantined
    api.book(second["slot_id"], applicant(2))  # booked
    quarantined, booked = _one_slot_window(api, first), _one_slot_window(api, second)
    assert quarantined == booked and quarantined["slots"] == [] and quarantined["next_cursor"] is None


def test_a_page_is_filled_past_hidden_slots_and_its_cursor_is_the_last_slot_s(api):
    slots = api.ready_site(quarantine_min_seconds=7200, quarantine_max_seconds=9000)
    assert len(slots) >= 3
    for n, slot in enumerate(slots[:-2]):  # all hidden but the last two
        assert api.release(api.hold(slot["slot_id"], applicant(n)).body).status == 204
    page = _search(api, limit=1).body
    assert [s["slot_id"] for s in page["slots"]] == [slots[-2]["slot_id"]] and page["next_cursor"]
    following = _search(api, page["next_cursor"], limit=1).body
    assert [s["slot_id"] for s in following["slots"]] == [slots[-1]["slot_id"]]
    last = _search(api, following["next_cursor"], limit=1).body
    assert last["slots"] == [] and last["next_cursor"] is None
