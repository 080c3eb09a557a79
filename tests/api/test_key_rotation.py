"""Each key's rotation run through the API (docs/deploy.md, "Rotating a key"): the three steps an
operator takes (accept the new version, sign with it, retire the old one), with what was signed
under the old version still working in between and refused with a 4xx, never a 500, after."""
from datetime import date, timedelta

import pytest

from chalicelib.platform import clock
from chalicelib.storage.models import Booking
from devlocal.streams import BookingsStreamPoller
from tests.api.test_links import DRAW, file, links_in, lookup, run_draw
from tests.support import PROCEDURE, SITE, applicant, deliver, messages

OLD, NEW = "1:old-secret-of-version-one", "2:new-secret-of-version-two"
ACCEPT, SIGN, RETIRE = f"{OLD} {NEW}", f"{NEW} {OLD}", NEW  # the three steps, in order


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    directory = tmp_path / "outbox"
    monkeypatch.setenv("OUTBOX_DIR", str(directory))
    monkeypatch.setenv("WEB_BASE_URL", "https://rdv.example.fr/")
    return directory


@pytest.fixture
def ring(monkeypatch):
    """ring(variable, text): the ring every function reads from now on (here its text in the
    environment; in AWS the parameter, read again within KEY_CACHE_SECONDS)."""
    def put(variable, text):
        monkeypatch.setenv(variable, text)
    return put


def test_a_booking_link_of_version_1_works_through_the_rotation_until_version_1_is_retired(api, outbox, ring):
    import app as application

    ring("LINK_KEY", OLD)
    stream = BookingsStreamPoller(application.bookings_stream, Booking.Meta.table_name, max_attempts=3)
    slots = api.ready_site()
    person = applicant(1)
    booking = api.book(slots[0]["slot_id"], person)
    deliver(stream)
    (_, _, booking_id, old_link), = set(links_in(messages(outbox)[f"{booking_id_of(booking)}-confirmation.eml"]))
    assert not old_link.startswith("v")  # version 1: the bare MAC, as before keys had versions

    def opens(token):
        return api.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": token}).status

    ring("LINK_KEY", ACCEPT)
    assert opens(old_link) == 200
    ring("LINK_KEY", SIGN)
    assert opens(old_link) == 200  # while valid
    clock.advance(1)
    assert lookup(api, person).status == 202  # identity keys untouched by the rotation: found
    deliver(stream)
    (_, _, _, new_link), = set(links_in(messages(outbox)[f"{booking_id}-link.eml"]))
    assert new_link.startswith("v2_") and opens(new_link) == 200
    ring("LINK_KEY", RETIRE)
    assert opens(new_link) == 200 and opens(old_link) == 401
    assert opens(new_link[len("v2_"):]) == 401  # its MAC passed off as a version-1 token: v1 is gone


def booking_id_of(booking):
    return booking["booking_id"]


def test_a_version_1_link_is_refused_with_401_once_version_1_is_retired(api, outbox, ring):
    import app as application

    ring("LINK_KEY", OLD)
    stream = BookingsStreamPoller(application.bookings_stream, Booking.Meta.table_name, max_attempts=3)
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    deliver(stream)
    (_, _, booking_id, old_link), = set(links_in(messages(outbox)[f"{booking['booking_id']}-confirmation.eml"]))
    for step in (ACCEPT, SIGN, RETIRE):
        ring("LINK_KEY", step)
    for method in ("GET", "DELETE"):
        reply = api.call(method, f"/bookings/{booking_id}", headers={"X-Booking-Token": old_link})
        assert reply.status == 401 and reply.code == "bad_booking_token", reply
    assert api.booking(booking).status == 200  # the booking's own token needs no key


def test_a_cursor_of_version_1_still_pages_after_the_rotation_and_is_a_422_once_retired(api, ring):
    ring("CURSOR_KEY", OLD)
    api.ready_site()
    first = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=1")
    cursor = first.body["next_cursor"]
    for step in (ACCEPT, SIGN):
        ring("CURSOR_KEY", step)
        page = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=1&cursor={cursor}")
        assert page.status == 200 and page.body["slots"][0]["slot_id"] != first.body["slots"][0]["slot_id"]
    newer = page.body["next_cursor"]  # sealed under version 2
    ring("CURSOR_KEY", RETIRE)
    assert api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=1&cursor={newer}").status == 200
    refused = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}&limit=1&cursor={cursor}")
    assert refused.status == 422 and refused.body["error"]["details"]["field"] == "cursor"  # start again from page one


def test_an_offer_made_under_version_1_shows_the_same_token_and_confirms_after_the_rotation(api, outbox, ring):
    ring("OFFER_KEY", OLD)
    ring("LINK_KEY", OLD)
    api.create_site()
    api.set_policy(**DRAW)
    api.schedule()
    day = (date.today() + timedelta(days=2)).isoformat()
    request = file(api, 1, day, day)
    (_, _, request_id, link), = set(links_in(messages(outbox)[f"{request['request_id']}-request.eml"]))
    assert run_draw(api)["offered"] == 1
    before = api.call("GET", f"/requests/{request_id}", headers={"X-Request-Token": request["request_token"]}).body["hold"]
    for variable in ("OFFER_KEY", "LINK_KEY"):
        ring(variable, ACCEPT)
        ring(variable, SIGN)
    after = api.call("GET", f"/requests/{request_id}", headers={"X-Request-Token": link})  # the version-1 link still opens it
    assert after.status == 200 and after.body["hold"] == before  # the token it was made with
    assert api.confirm(after.body["hold"]).status == 201


def test_offer_ids_and_tokens_of_a_draw_made_under_version_2_name_their_version(api, outbox, ring):
    ring("OFFER_KEY", SIGN)
    api.create_site()
    api.set_policy(**DRAW)
    api.schedule()
    day = (date.today() + timedelta(days=2)).isoformat()
    request = file(api, 1, day, day)
    assert run_draw(api)["offered"] == 1
    hold = api.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]}).body["hold"]
    assert hold["hold_token"].startswith("v2_")
    ring("OFFER_KEY", RETIRE)
    assert api.confirm(hold).status == 201  # an offer's own token is checked by its hash: no key


def test_publishing_a_period_again_meets_the_same_slots_whatever_the_other_keys_do(api, ring):
    """Slot ids have a key of their own, which does not rotate: rotating the others changes no id."""
    api.create_site()
    assert api.schedule() == 3
    before = set(api.all_slot_ids())
    for variable in ("LINK_KEY", "OFFER_KEY", "CURSOR_KEY"):
        ring(variable, SIGN)
    reply = api.call("POST", f"/staff/sites/{SITE}/schedules", {
        "procedure_id": PROCEDURE, "from": (date.today() + timedelta(days=2)).isoformat(),
        "to": (date.today() + timedelta(days=2)).isoformat(), "weekdays": list(range(7)), "opens": "09:00",
        "closes": "12:00", "slot_minutes": 60, "counters": 1, "publish": "now"}, api.staff_headers())
    assert reply.status == 201 and reply.body["created"] == 0
    assert set(api.all_slot_ids()) == before
