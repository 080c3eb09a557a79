"""DEVELOPERS.md, "Links in e-mails, find my booking, offers by e-mail": every e-mail links back to its booking or request (a link token
in the URL fragment), "find my booking" sends the link again, draw offers reach their winners."""
import re
from datetime import date, timedelta

import pytest

from chalicelib.platform import clock
from chalicelib.platform.clock import epoch_of
from chalicelib.storage.models import Booking
from chalicelib.usecases import notify
from devlocal.streams import BookingsStreamPoller
from tests.support import PROCEDURE, SITE, applicant, deliver, messages

LINK = re.compile(r"(https?://\S+/#/(booking|request)/([^/\s]+)/([A-Za-z0-9_-]+))")


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    directory = tmp_path / "outbox"
    monkeypatch.setenv("OUTBOX_DIR", str(directory))
    monkeypatch.setenv("WEB_BASE_URL", "https://rdv.example.fr/")
    return directory


@pytest.fixture
def stream(api, outbox):
    import app as application

    return BookingsStreamPoller(application.bookings_stream, Booking.Meta.table_name, max_attempts=3)


def links_in(message):
    found = LINK.findall(message.get_content())
    assert found, message.get_content()
    return found


def lookup(api, person, email=None, ip="198.51.100.7"):
    body = {"document": person["document"], "birth_date": person["birth_date"], "email": email or person["email"]}
    return api.call("POST", "/bookings/lookup", body, {"X-Forwarded-For": ip})


def test_every_booking_email_links_to_the_booking_with_a_fragment_token_that_opens_and_cancels_it(api, stream, outbox):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    deliver(stream)
    (url, kind, booking_id, token), = set(links_in(messages(outbox)[f"{booking['booking_id']}-confirmation.eml"]))
    assert url.startswith("https://rdv.example.fr/#/booking/") and "?" not in url
    assert (kind, booking_id) == ("booking", booking["booking_id"])
    assert token != booking["booking_token"] and len(token) >= 43  # 256 bits, not the bearer token itself
    view = api.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": token})
    assert view.status == 200 and view.body["reference"] == booking["reference"]
    other = api.book(slots[1]["slot_id"], applicant(2))
    assert api.call("GET", f"/bookings/{other['booking_id']}", headers={"X-Booking-Token": token}).status == 401
    assert api.call("DELETE", f"/bookings/{booking_id}", headers={"X-Booking-Token": token}).status == 204
    deliver(stream)
    cancelled = messages(outbox)[f"{booking['booking_id']}-cancellation.eml"]
    assert {link[0] for link in links_in(cancelled)} == {url}


def test_find_my_booking_sends_the_link_again_to_the_email_on_file_and_answers_the_same_either_way(api, stream, outbox):
    slots = api.ready_site()
    person = applicant(1, email="owner@example.org")
    booking = api.book(slots[0]["slot_id"], person)
    deliver(stream)
    before = set(messages(outbox))
    wrong_email = lookup(api, person, email="someone.else@example.org")
    nobody = lookup(api, applicant(99))
    assert wrong_email.status == nobody.status == 202 and wrong_email.body == nobody.body
    deliver(stream)
    assert set(messages(outbox)) == before  # nothing sent when the e-mail is not the one on file
    found = lookup(api, {**person, "email": "Owner@Example.org"})
    assert found.status == 202 and found.body == nobody.body
    deliver(stream)
    sent = messages(outbox)[f"{booking['booking_id']}-link.eml"]
    assert sent["To"] == "owner@example.org"
    (url, _, booking_id, token), = set(links_in(sent))
    assert api.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": token}).status == 200


def test_find_my_booking_sends_a_new_link_and_the_old_one_stops_working(api, stream, outbox):
    """A leaked link can be replaced: asking for the link again issues a new token; the one
    before opens and cancels nothing any more."""
    slots = api.ready_site()
    person = applicant(1)
    booking = api.book(slots[0]["slot_id"], person)
    deliver(stream)
    (_, _, booking_id, first), = set(links_in(messages(outbox)[f"{booking['booking_id']}-confirmation.eml"]))
    assert api.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": first}).status == 200
    clock.advance(1)
    assert lookup(api, person).status == 202
    deliver(stream)
    (_, _, _, second), = set(links_in(messages(outbox)[f"{booking['booking_id']}-link.eml"]))
    assert second != first
    assert api.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": first}).status == 401
    assert api.call("DELETE", f"/bookings/{booking_id}", headers={"X-Booking-Token": first}).status == 401
    assert api.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": second}).status == 200


def test_a_booking_link_ends_with_its_appointment(api, stream, outbox):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    deliver(stream)
    (_, _, booking_id, token), = set(links_in(messages(outbox)[f"{booking['booking_id']}-confirmation.eml"]))
    assert api.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": token}).status == 200
    clock.advance(epoch_of(slots[0]["ends_at"]) - clock.now() + 1)
    assert api.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": token}).status == 401


def test_find_my_booking_is_rate_limited_per_ip_not_per_identity(api):
    api.ready_site()
    person = applicant(5)
    replies = [lookup(api, person, ip=f"203.0.113.{i}") for i in range(6)]
    assert {r.status for r in replies} == {202}  # no limit per identity for a stranger to use up
    replies = [lookup(api, applicant(100 + i), ip="192.0.2.9") for i in range(11)]
    assert [r.status for r in replies] == [202] * 10 + [429]  # 10 an hour from one IP
    assert replies[-1].code == "rate_limited" and int(replies[-1].headers["retry-after"]) > 0


def test_find_my_booking_reads_only_what_it_must(api, stream, calls):
    slots = api.ready_site()
    person = applicant(1)
    api.book(slots[0]["slot_id"], person)
    api.prove(applicant(2))  # R10: identity tokens first (their calls are not the look-up's)
    calls.clear()
    assert lookup(api, applicant(2)).status == 202  # nobody: the token's proof, then the same calls as a match
    assert dict(calls) == {"GetItem": 1, "TransactWriteItems": 2, "Query": 1, "BatchGetItem": 1}
    calls.clear()
    assert lookup(api, person).status == 202  # a match: the same calls (tests/api/test_no_oracle.py)
    assert dict(calls) == {"GetItem": 1, "TransactWriteItems": 2, "Query": 1, "BatchGetItem": 1}


def test_find_my_booking_refuses_malformed_input_with_a_named_field(api):
    reply = api.call("POST", "/bookings/lookup", {"document": {"type": "agdref", "number": "0000000001"},
                                                  "birth_date": "1990-13-01", "email": "a@example.org"})
    assert reply.status == 422 and reply.body["error"]["details"]["field"] == "birth_date"
    reply = api.call("POST", "/bookings/lookup", {"document": {"type": "agdref", "number": "12AB"},
                                                  "birth_date": "1990-01-01", "email": "a@example.org"})
    assert reply.status == 422 and reply.body["error"]["details"]["field"] == "document.number"


DRAW = {"allocation": "draw", "offer_ttl_seconds": 600, "cooldown_seconds": 1000}


def file(api, n, first, last):
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(n), "from": first, "to": last}
    reply = api.call("POST", "/requests", body)
    assert reply.status == 201, reply
    return reply.body


def run_draw(api):
    reply = api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers())
    assert reply.status == 200, reply
    return reply.body


def test_a_request_is_acknowledged_and_its_winner_gets_an_offer_email_whose_link_opens_the_offer(api, outbox):
    api.create_site()
    api.set_policy(**DRAW)
    api.schedule()  # the day after tomorrow
    day = (date.today() + timedelta(days=2)).isoformat()
    request = file(api, 1, day, day)
    ack = messages(outbox)[f"{request['request_id']}-request.eml"]
    (_, kind, request_id, token), = set(links_in(ack))
    assert (kind, request_id) == ("request", request["request_id"])
    assert run_draw(api)["offered"] == 1
    view = api.call("GET", f"/requests/{request_id}", headers={"X-Request-Token": token}).body
    assert (view["from"], view["to"]) == (day, day)  # the one day asked for, end to end
    assert view["hold"]["slot"]["starts_at"][:10] == day  # slots at 09:00-12:00 Paris: the same UTC day
    offer = messages(outbox)[f"{view['hold']['hold_id']}-offer.eml"]
    text = offer.get_content()
    assert "Le tirage au sort vous propose" in text and "The draw offers you" in text
    assert {link[3] for link in links_in(offer)} == {token}
    assert api.confirm(view["hold"]).status == 201


def test_an_offer_email_that_fails_is_sent_by_the_next_tick_and_only_once(api, outbox, monkeypatch):
    from chalicelib.usecases import draw_runs

    api.create_site()
    api.set_policy(**DRAW)
    api.schedule()
    day = (date.today() + timedelta(days=2)).isoformat()
    request = file(api, 1, day, day)
    real_offer_made, attempts = notify.offer_made, []

    def failing(*args, **kwargs):
        attempts.append(kwargs["request_id"])
        if len(attempts) == 1:
            raise ConnectionError("SES unreachable")
        return real_offer_made(*args, **kwargs)

    monkeypatch.setattr(notify, "offer_made", failing)
    assert run_draw(api)["offered"] == 1
    assert not any(name.endswith("-offer.eml") for name in messages(outbox))
    draw_runs.run_due_draws(clock.now())  # the next tick: the draw is not due, the pending offer is
    assert [n for n in messages(outbox) if n.endswith("-offer.eml")]
    draw_runs.run_due_draws(clock.now())
    assert attempts == [request["request_id"]] * 2


def test_sites_give_english_names_and_each_procedures_cooldown(api):
    body = {"site_id": "bilingual", "name": "Préfecture de l'Hérault", "name_en": "Hérault prefecture",
            "address": "34 place des Martyrs, Montpellier", "timezone": "Europe/Paris",
            "procedures": [{"procedure_id": "renewal", "name": "Renouvellement de titre de séjour",
                            "name_en": "Residence permit renewal"}, {"procedure_id": "other", "name": "Autre"}]}
    assert api.call("POST", "/staff/sites", body, api.staff_headers()).status == 201
    api.set_policy(site_id="bilingual", procedure="renewal", cooldown_seconds=172800)
    site = next(s for s in api.call("GET", "/sites").body["sites"] if s["site_id"] == "bilingual")
    assert site["name_en"] == "Hérault prefecture"
    renewal, other = site["procedures"]
    assert renewal["name_en"] == "Residence permit renewal" and "name_en" not in other
    assert renewal["cooldown_seconds"] == 172800


def test_the_english_part_of_an_email_names_the_site_in_english(api, outbox):
    message = notify.render(notify.CONFIRMATION, "a@example.org", "Préfecture de l'Hérault", "Europe/Paris",
                            "2030-01-02T09:00:00Z", reference="FS-AAAA-BBBB", site_name_en="Hérault prefecture")
    french, english = message.get_content().split("\n---\n")
    assert "Préfecture de l'Hérault" in french and "Hérault prefecture" in english
    assert "Préfecture de l'Hérault" not in english


def test_a_draw_whose_offer_emails_meet_storage_trouble_still_answers_and_the_tick_sends_them(api, outbox, monkeypatch):
    from chalicelib import storage
    from chalicelib.rules.errors import StorageUnavailable
    from chalicelib.usecases import draw_runs

    api.create_site()
    api.set_policy(**DRAW)
    api.schedule()
    day = (date.today() + timedelta(days=2)).isoformat()
    file(api, 1, day, day)
    real = storage.offers_to_notify

    def unavailable(*args):
        raise StorageUnavailable()

    monkeypatch.setattr(storage, "offers_to_notify", unavailable)
    assert run_draw(api)["offered"] == 1  # the draw and its offer stand
    assert not any(name.endswith("-offer.eml") for name in messages(outbox))
    monkeypatch.setattr(storage, "offers_to_notify", real)
    draw_runs.run_due_draws(clock.now())
    assert [name for name in messages(outbox) if name.endswith("-offer.eml")]


def test_an_offers_link_ends_with_the_offer(api, outbox):
    """The offer e-mail's link (the request's) opens the offer until it expires, then nothing."""
    api.create_site()
    api.set_policy(**DRAW)
    api.schedule()
    day = (date.today() + timedelta(days=2)).isoformat()
    request = file(api, 1, day, day)
    assert run_draw(api)["offered"] == 1
    mine = {"X-Request-Token": request["request_token"]}
    hold = api.call("GET", f"/requests/{request['request_id']}", headers=mine).body["hold"]
    (_, _, request_id, token), = set(links_in(messages(outbox)[f"{hold['hold_id']}-offer.eml"]))
    assert api.call("GET", f"/requests/{request_id}", headers={"X-Request-Token": token}).status == 200
    clock.advance(epoch_of(hold["expires_at"]) - clock.now() + 1)
    for method in ("GET", "DELETE"):
        reply = api.call(method, f"/requests/{request_id}", headers={"X-Request-Token": token})
        assert reply.status == 401 and reply.code == "bad_request_token", reply
    assert api.call("GET", f"/requests/{request_id}", headers=mine).body["status"] == "expired"  # its own token still says so


def test_a_requests_link_ends_when_it_is_withdrawn_or_its_days_are_over(api, outbox):
    api.create_site()
    api.set_policy(**DRAW)
    day = (date.today() + timedelta(days=2)).isoformat()
    withdrawn, waiting = file(api, 1, day, day), file(api, 2, day, day)
    link = {r["request_id"]: set(links_in(messages(outbox)[f"{r['request_id']}-request.eml"])).pop()[3] for r in (withdrawn, waiting)}

    def opens(request):
        return api.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": link[request["request_id"]]}).status

    assert opens(withdrawn) == opens(waiting) == 200
    assert api.call("DELETE", f"/requests/{withdrawn['request_id']}", headers={"X-Request-Token": link[withdrawn["request_id"]]}).status == 204
    assert opens(withdrawn) == 401 and opens(waiting) == 200
    clock.advance(epoch_of(f"{day}T00:00:00Z") + 86400 - clock.now() + 1)  # the day after its last day
    assert opens(waiting) == 401
