"""Bookings stream images (DynamoDB JSON) are read by storage, which hands notifications plain
booking fields: the stream's format stays storage's business."""
from chalicelib import storage


def test_a_stream_image_becomes_the_booking_s_plain_fields():
    image = {
        "booking_id": {"S": "bkg_1"},
        "status": {"S": "booked"},
        "reminded_at": {"N": "1767225600.5"},
        "freed_late": {"BOOL": False},
        "partner_id": {"NULL": True},
        "applicant": {"M": {"email": {"S": "a@example.org"}, "phone": {"NULL": True}}},
    }
    assert storage.booking_image(image) == {
        "booking_id": "bkg_1",
        "status": "booked",
        "reminded_at": 1767225600.5,
        "freed_late": False,
        "partner_id": None,
        "applicant": {"email": "a@example.org", "phone": None},
    }


def test_no_image_and_types_bookings_never_use_read_as_nothing():
    assert storage.booking_image(None) == {}
    assert storage.booking_image({"x": {"SS": ["a"]}, "y": "not DynamoDB JSON", "z": {"S": "a", "N": "1"}}) == {
        "x": None, "y": None, "z": None}


def test_reading_an_image_needs_no_dynamodb_connection(monkeypatch):
    def no_connection():
        raise AssertionError("booking_image opened a DynamoDB connection")

    monkeypatch.setattr(storage.connection, "connection", no_connection)
    monkeypatch.setattr(storage.calls, "connection", no_connection)  # what the storage-error wrapper opens
    assert storage.booking_image({"status": {"S": "cancelled"}}) == {"status": "cancelled"}
