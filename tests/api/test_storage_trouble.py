"""Storage trouble (throttling, timeouts, an unreachable engine) is a 503 with Retry-After,
never a 500, and leaves nothing half-written."""
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from tests.support import applicant, at_the_wire

FAILURES = {
    "timeout": lambda op: ReadTimeoutError(endpoint_url="http://engine"),
    "unreachable": lambda op: EndpointConnectionError(endpoint_url="http://engine"),
    "throttled": lambda op: ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, op),
    "capacity": lambda op: ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, op),
}


@pytest.fixture
def failing(monkeypatch):
    """failing(kind, *operations): from now on those DynamoDB operations fail that way."""
    broken = {}

    def call(send, service, operation_name, api_params):
        if operation_name in broken:
            raise broken[operation_name](operation_name)
        return send()

    at_the_wire(monkeypatch, call)

    def fail(kind, *operations):
        broken.clear()
        broken.update({op: FAILURES[kind] for op in operations})

    return fail


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_every_route_answers_503_with_retry_after_when_storage_fails(api, failing, kind):
    slots = api.ready_site()
    hold = api.hold(slots[0]["slot_id"], applicant(1)).body
    booking = api.confirm(hold).body
    other = api.hold(slots[1]["slot_id"], applicant(2)).body
    failing(kind, "GetItem", "Query", "TransactWriteItems", "PutItem", "UpdateItem")
    replies = [api.call("GET", "/sites/test-site/slots?procedure=renewal"),
               api.hold(slots[2]["slot_id"], applicant(3)), api.confirm(other), api.release(other),
               api.booking(booking), api.cancel(booking)]
    for reply in replies:
        assert reply.status == 503, reply
        assert reply.code == "storage_unavailable" and int(reply.headers["retry-after"]) > 0


def test_a_failed_transaction_leaves_nothing_half_written(api, failing):
    slots = api.ready_site()
    api.prove(applicant(1))  # R10: the identity token before the storage fails
    failing("timeout", "TransactWriteItems")
    assert api.hold(slots[0]["slot_id"], applicant(1)).status == 503
    failing("timeout")
    assert slots[0] in api.slots()  # the slot was not taken
    assert api.hold(slots[1]["slot_id"], applicant(1)).status == 201  # nor the identity's one hold
