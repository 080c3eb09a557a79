"""Notifications (DEVELOPERS.md, "Partners, staff work, audit trail, notifications"): sent from the bookings stream, in French and English, never on the
booking path; a failed send is retried and loses nothing."""
import pytest

from chalicelib.platform import clock
from chalicelib.platform.clock import epoch_of
from chalicelib.storage.models import Booking
from chalicelib.usecases import notify
from devlocal.streams import BookingsStreamPoller
from tests.support import applicant, deliver, messages


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    directory = tmp_path / "outbox"
    monkeypatch.setenv("OUTBOX_DIR", str(directory))
    return directory


@pytest.fixture
def stream(api, outbox):
    import app as application

    return BookingsStreamPoller(application.bookings_stream, Booking.Meta.table_name, max_attempts=3)


def test_a_confirmation_is_sent_in_french_and_english_from_the_stream(api, stream, outbox):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1, email="jane@example.org"))
    assert messages(outbox) == {}  # the booking path never sends
    deliver(stream)
    sent = messages(outbox)
    assert list(sent) == [f"{booking['booking_id']}-confirmation.eml"]
    message = sent[f"{booking['booking_id']}-confirmation.eml"]
    assert message["To"] == "jane@example.org"
    text = message.get_content()
    assert booking["reference"] in text and "Votre rendez-vous est confirmé" in text and "Your appointment is confirmed" in text


def test_cancellation_and_closure_are_notified(api, stream, outbox):
    slots = api.ready_site()
    cancelled = api.book(slots[0]["slot_id"], applicant(1))
    closed = api.book(slots[1]["slot_id"], applicant(2))
    api.cancel(cancelled)
    api.call("POST", f"/staff/slots/{slots[1]['slot_id']}/close", headers=api.staff_headers(("agents",)))
    deliver(stream)
    assert set(messages(outbox)) == {
        f"{cancelled['booking_id']}-confirmation.eml", f"{cancelled['booking_id']}-cancellation.eml",
        f"{closed['booking_id']}-confirmation.eml", f"{closed['booking_id']}-closure.eml",
    }


def test_a_failed_send_loses_no_booking_and_is_retried(api, stream, outbox, monkeypatch):
    slots = api.ready_site()
    api.prove(applicant(1))  # R10: the code's e-mail before sending is made to fail
    real_send, attempts = notify.send, []

    def flaky(message, name):
        attempts.append(name)
        if len(attempts) <= 2:
            raise ConnectionError("SES unreachable")
        return real_send(message, name)

    monkeypatch.setattr(notify, "send", flaky)
    booking = api.book(slots[0]["slot_id"], applicant(1))
    assert api.booking(booking).body["status"] == "booked"  # the booking stands, whatever e-mail does
    assert deliver(stream) == 0 and deliver(stream) == 0
    assert messages(outbox) == {}
    assert deliver(stream) == 1
    assert list(messages(outbox)) == [f"{booking['booking_id']}-confirmation.eml"]
    assert attempts == [f"{booking['booking_id']}-confirmation"] * 3
    assert api.booking(booking).body["status"] == "booked"


def test_reminders_go_once_the_day_before(api, stream, outbox):
    import app as application

    slots = api.ready_site()  # the day after tomorrow
    booking = api.book(slots[0]["slot_id"], applicant(1))
    deliver(stream)
    assert notify.remind_tomorrow(clock.now()) == 0
    clock.advance(epoch_of(slots[0]["starts_at"]) - clock.now() - 20 * 3600)  # the day before, at ~13:00
    assert application.send_reminders({"detail": {}, "time": "", "resources": [], "region": "eu-west-3", "account": "x",
                                       "id": "x", "source": "aws.events", "detail-type": "Scheduled Event", "version": "0"},
                                      None) == 1
    assert notify.remind_tomorrow(clock.now()) == 0  # once only
    deliver(stream)
    assert f"{booking['booking_id']}-reminder.eml" in messages(outbox)


def test_the_engine_keeps_no_consumed_stream_records(api, stream, outbox):
    slots = api.ready_site()
    bookings = [api.book(slots[i]["slot_id"], applicant(i + 1)) for i in range(3)]
    assert stream.stream_length() == 3
    deliver(stream)
    assert stream.stream_length() == 0 and len(messages(outbox)) == 3
    api.cancel(bookings[0])
    assert stream.stream_length() == 1
    deliver(stream)
    assert stream.stream_length() == 0 and len(messages(outbox)) == 4


def test_a_draw_offer_can_be_notified(api, outbox):
    slots = api.ready_site()
    notify.offer_made("someone@example.org", "test-site", slots[0]["starts_at"], clock.now() + 3600, offer_id="hold_x")
    text = messages(outbox)["hold_x-offer.eml"].get_content()
    assert "Le tirage au sort vous propose" in text and "The draw offers you" in text
