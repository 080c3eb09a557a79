"""A poison record never stalls notifications (docs/deploy.md, "Scheduled and stream handlers"): SES v2 errors are classified in
notify.send. A permanent refusal drops that one message (counted, logged without the address) and
the batch completes; a transient error raises, so Lambda retries the record within the event
source's bounds (infra/package.py) before it goes to the failures queue. SES is a botocore
Stubber: the real client's request and error parsing, no network."""
import json

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber

from chalicelib.storage.models import Booking
from chalicelib.usecases import notify
from devlocal.streams import BookingsStreamPoller
from tests.support import applicant


@pytest.fixture
def ses(api, monkeypatch):
    client = boto3.client("sesv2", region_name="eu-west-3")
    stubber = Stubber(client)
    # As in AWS: no outbox, so notify sends through SES (here the stubbed client).
    monkeypatch.setenv("FAIRSLOT_LOCAL", "0")
    monkeypatch.delenv("OUTBOX_DIR")
    monkeypatch.setattr(notify, "_ses", client)
    with stubber:
        yield stubber


@pytest.fixture
def seen(monkeypatch):
    """Metrics and log lines notify writes (the log's text and extra fields, as one string each)."""
    recorded = {"metrics": [], "logs": []}

    class Log:
        def _line(self, message, *args, extra=None, **kwargs):
            recorded["logs"].append(message + " " + json.dumps(extra or {}))

        warning = error = info = exception = _line

    monkeypatch.setattr(notify, "metric", lambda name, *a, **k: recorded["metrics"].append(name))
    monkeypatch.setattr(notify, "logger", lambda: Log())
    return recorded


def _batch(api):
    """Every record the bookings stream holds, as one Lambda event (the shape Lambda delivers)."""
    import app as application

    poller = BookingsStreamPoller(application.bookings_stream, Booking.Meta.table_name)
    arn, records = poller._records()
    return application, {"Records": [poller._lambda_record(arn, r) for r in records]}


def _sent_to(address):
    return {"FromEmailAddress": ANY, "Destination": {"ToAddresses": [address]}, "Content": ANY}


def test_a_poison_record_among_good_ones_is_dropped_and_the_batch_completes(api, ses, seen):
    slots = api.ready_site()
    addresses = ["first@example.org", "suppressed@example.org", "third@example.org"]
    for n, address in enumerate(addresses):
        api.book(slots[n]["slot_id"], applicant(n + 1, email=address))
    ses.add_response("send_email", {"MessageId": "m-1"}, _sent_to(addresses[0]))
    ses.add_client_error("send_email", service_error_code="MessageRejected", http_status_code=400,
                         service_message="Address suppressed@example.org is on the suppression list",
                         expected_params=_sent_to(addresses[1]))
    ses.add_response("send_email", {"MessageId": "m-3"}, _sent_to(addresses[2]))
    application, event = _batch(api)
    assert len(event["Records"]) == 3
    application.bookings_stream(event, None)  # returns: Lambda sees success, the shard moves on
    ses.assert_no_pending_responses()  # the good ones were sent, in order, past the bad one
    assert seen["metrics"] == ["NotificationSent", "NotificationDropped", "NotificationSent"]
    (line,) = seen["logs"]
    assert "MessageRejected" in line
    assert "suppressed" not in line and "@" not in line and "Family2" not in line and "Given2" not in line


@pytest.mark.parametrize("code", ["BadRequestException", "MailFromDomainNotVerifiedException",
                                  "AccountSuspendedException", "NotFoundException"])
def test_every_permanent_ses_refusal_drops_the_message(api, ses, seen, code):
    slots = api.ready_site()
    api.book(slots[0]["slot_id"], applicant(1, email="jane@example.org"))
    ses.add_client_error("send_email", service_error_code=code, http_status_code=400,
                         service_message="refused: jane@example.org")
    application, event = _batch(api)
    application.bookings_stream(event, None)
    assert seen["metrics"] == ["NotificationDropped"]
    assert "jane" not in " ".join(seen["logs"])


@pytest.mark.parametrize("code, status", [("TooManyRequestsException", 429), ("LimitExceededException", 400),
                                          ("SendingPausedException", 400), ("InternalFailure", 500),
                                          ("ServiceUnavailable", 503), ("MessageRejected", 500)])
def test_a_transient_ses_error_raises_so_the_record_is_retried(api, ses, seen, code, status):
    slots = api.ready_site()
    api.book(slots[0]["slot_id"], applicant(1, email="jane@example.org"))
    ses.add_client_error("send_email", service_error_code=code, http_status_code=status)
    application, event = _batch(api)
    with pytest.raises(Exception) as raised:
        application.bookings_stream(event, None)
    assert getattr(raised.value, "response", {}).get("Error", {}).get("Code") == code
    assert seen["metrics"] == ["NotificationFailed"]


def test_a_network_failure_raises_so_the_record_is_retried(api, ses, seen, monkeypatch):
    slots = api.ready_site()
    api.book(slots[0]["slot_id"], applicant(1, email="jane@example.org"))

    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://email.eu-west-3.amazonaws.com")

    monkeypatch.setattr(notify._ses, "send_email", unreachable)
    application, event = _batch(api)
    with pytest.raises(EndpointConnectionError):
        application.bookings_stream(event, None)
    assert seen["metrics"] == ["NotificationFailed"]


@pytest.mark.parametrize("address", ["jane,john@example.org", "jane:x@example.org", "jane\x01@example.org",
                                     "Jane <jane@example.org>", "jane@example"])
def test_an_address_ses_cannot_take_is_refused_at_input_naming_the_field(api, address):
    slots = api.ready_site()
    reply = api.call("POST", "/holds", {"slot_id": slots[0]["slot_id"], "applicant": applicant(1, email=address)})
    assert reply.status == 422
    assert reply.body["error"]["details"]["field"] == "applicant.email"
