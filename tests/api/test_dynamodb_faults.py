"""DynamoDB answers the local engine never gives (DEVELOPERS.md: storage trouble is a 503, never a 409): transaction conflicts,
throttling, request limits, internal errors, injected at botocore on every route and use case.
A transient failure is retried (storage/connection.py, one place, with jitter) and the call succeeds; a
persistent one is a 503 with Retry-After: never a 500, and never a 409 as if the slot were taken.

Every route of the app must have a case here (test_every_route_has_a_case), so a new write path
cannot skip this test."""
import threading
from datetime import date, timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib import storage
from chalicelib.platform import clock, config
from chalicelib.rules.errors import StorageUnavailable
from chalicelib.storage import calls, connection, models
from chalicelib.usecases import site_catalog
from tests.support import PROCEDURE, SITE, applicant, at_the_wire

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems", "DescribeTable"}
WRITES = {"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
KINDS = ("TransactionConflict", "ProvisionedThroughputExceededException", "ThrottlingException",
         "RequestLimitExceeded", "InternalServerError")
AGENT = ("agents",)


def _error(kind, operation, params):
    if kind == "TransactionConflict":
        if operation == "TransactWriteItems":
            reasons = [{"Code": "TransactionConflict", "Message": "conflict"}] + [{"Code": "None"}] * (len(params["TransactItems"]) - 1)
            return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                                "CancellationReasons": reasons}, operation)
        return ClientError({"Error": {"Code": "TransactionConflictException", "Message": "conflict"}}, operation)
    return ClientError({"Error": {"Code": kind, "Message": "injected"}}, operation)


@pytest.fixture
def faults(monkeypatch):
    """faults(kind, scope, persistent): DynamoDB operations in `scope` ("all" or "writes") fail
    with `kind`, always (persistent) or every other attempt in each thread (transient)."""
    state = {"kind": None}
    local = threading.local()
    pauses = []

    def call(send, service, operation_name, api_params):
        kind = state["kind"]
        if kind and service == "dynamodb":
            ops = WRITES if state["scope"] == "writes" or kind == "TransactionConflict" else READS | WRITES
            if operation_name in ops:
                local.n = getattr(local, "n", 0) + 1
                if state["persistent"] or local.n % 2 == 1:
                    state["injected"] += 1
                    raise _error(kind, operation_name, api_params)
        return send()

    at_the_wire(monkeypatch, call)
    monkeypatch.setattr(connection, "pause", pauses.append)

    def set_faults(kind=None, scope="all", persistent=True):
        state.update(kind=kind, scope=scope, persistent=persistent, injected=0)
        local.n = 0
        pauses.clear()
        site_catalog.forget_cached()  # every call reads the storage, as a cold process does

    set_faults.state, set_faults.pauses = state, pauses
    return set_faults


# --- the cases: one per route (and a few use cases), each prepared on a fresh engine -----------

def _site(api, draw=False):
    api.create_site(procedures=(PROCEDURE, "lottery"))
    api.set_policy(procedure="lottery", allocation="draw", offer_ttl_seconds=600)
    api.schedule(counters=2)
    api.schedule(procedure="lottery")
    for procedure in (PROCEDURE, "lottery"):  # R10: identity tokens before any fault (the test client keeps them)
        for n in (1, 2):
            assert api.prove(applicant(n), SITE, procedure), (procedure, n)
    return api.slots()


def _prepare_verification(api):
    _site(api)
    return lambda: api.call("POST", "/verifications", {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(1)})


def _prepare_verification_code(api):
    from tests.support import code_in

    _site(api)
    started = api.call("POST", "/verifications", {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(1)}).body
    code = code_in(api.outbox, started["verification_id"])
    return lambda: api.call("POST", f"/verifications/{started['verification_id']}", {"code": code})


def _request_body(n, procedure="lottery"):
    return {"site_id": SITE, "procedure_id": procedure, "applicant": applicant(n),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}


def _partner(api):
    if SITE not in {s["site_id"] for s in api.call("GET", "/sites").body["sites"]}:
        api.create_site()  # the site its key acts on (R11)
    return api.create_partner()


def _staff(method, path, body=None, groups=("admins",)):
    return lambda api: api.call(method, path, body, api.staff_headers(groups))


def _prepare_search(api):
    _site(api)
    return lambda: api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}")


def _prepare_hold(api):
    slots = _site(api)
    return lambda: api.hold(slots[0]["slot_id"], applicant(1))


def _prepare_hold_in_cooldown(api):
    slots = _site(api)
    api.release(api.hold(slots[0]["slot_id"], applicant(1)).body)
    return lambda: api.hold(slots[1]["slot_id"], applicant(1))  # refused, and the refusal counted


def _prepare_release(api):
    slots = _site(api)
    hold = api.hold(slots[0]["slot_id"], applicant(1)).body
    return lambda: api.release(hold)


def _prepare_confirm(api):
    slots = _site(api)
    hold = api.hold(slots[0]["slot_id"], applicant(1)).body
    return lambda: api.confirm(hold)


def _booked(api):
    slots = _site(api)
    return api.book(slots[0]["slot_id"], applicant(1))


def _prepare_get_booking(api):
    booking = _booked(api)
    return lambda: api.booking(booking)


def _prepare_lookup(api):
    _booked(api)
    person = applicant(1)
    body = {"document": person["document"], "birth_date": person["birth_date"], "email": person["email"]}
    return lambda: api.call("POST", "/bookings/lookup", body, {"X-Forwarded-For": "198.51.100.7"})


def _prepare_release_identity(api):
    slots = _site(api)
    api.hold(slots[0]["slot_id"], applicant(1))
    person = applicant(1)
    body = {"procedure_id": PROCEDURE, "document": person["document"], "birth_date": person["birth_date"], "reason": "at the counter"}
    return lambda: api.call("POST", f"/staff/sites/{SITE}/identities/release", body, api.staff_headers(groups=("agents",)))


def _prepare_cancel(api):
    booking = _booked(api)
    return lambda: api.cancel(booking)


def _prepare_file_request(api):
    _site(api)
    return lambda: api.call("POST", "/requests", _request_body(1))


def _filed(api):
    _site(api)
    return api.call("POST", "/requests", _request_body(1)).body


def _prepare_get_request(api):
    request = _filed(api)
    return lambda: api.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]})


def _prepare_withdraw(api):
    request = _filed(api)
    return lambda: api.call("DELETE", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]})


def _prepare_withdraw_offer(api):
    request = _filed(api)
    _staff("POST", f"/staff/sites/{SITE}/procedures/lottery/draws", {"reason": "test"})(api)
    return lambda: api.call("DELETE", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]})


def _prepare_public_draws(api):
    _site(api)
    api.call("GET", f"/sites/{SITE}/procedures/lottery/draws")  # a draw is committed: reading only
    return lambda: api.call("GET", f"/sites/{SITE}/procedures/lottery/draws")


def _prepare_draw_record(api):
    _filed(api)
    api.call("GET", f"/sites/{SITE}/procedures/lottery/draws")  # the draw is committed
    _staff("POST", f"/staff/sites/{SITE}/procedures/lottery/draws", {"reason": "test"})(api)
    draw_id = api.call("GET", f"/sites/{SITE}/procedures/lottery/draws").body["draws"][1]["draw_id"]
    return lambda: api.call("GET", f"/sites/{SITE}/procedures/lottery/draws/{draw_id}/record?part=slots")


def _prepare_stats(api):
    _booked(api)
    return lambda: api.call("GET", f"/stats/{SITE}")


def _prepare_create_site(api):
    return lambda: api.call("POST", "/staff/sites", {"site_id": "other", "name": "Autre", "address": "2 rue X",
                                                     "timezone": "Europe/Paris", "procedures": [{"procedure_id": "a", "name": "A"}]},
                            api.staff_headers())


def _prepare_get_policy(api):
    _site(api)
    return lambda: _staff("GET", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy", groups=AGENT)(api)


def _prepare_put_policy(api):
    _site(api)
    return lambda: _staff("PUT", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy", {"hold_ttl_seconds": 900})(api)


def _prepare_schedule(api):
    _site(api)
    first = date.today() + timedelta(days=5)
    body = {"procedure_id": PROCEDURE, "from": first.isoformat(), "to": (first + timedelta(days=1)).isoformat(),
            "weekdays": list(range(7)), "opens": "09:00", "closes": "12:00", "slot_minutes": 30, "counters": 2,
            "publish": "now"}
    return lambda: _staff("POST", f"/staff/sites/{SITE}/schedules", body)(api)


def _prepare_site_history(api):
    _site(api)
    return lambda: _staff("GET", f"/staff/sites/{SITE}/history", groups=AGENT)(api)


def _prepare_run_draw(api):
    _filed(api)
    api.call("GET", f"/sites/{SITE}/procedures/lottery/draws")  # the draw is committed
    return lambda: _staff("POST", f"/staff/sites/{SITE}/procedures/lottery/draws", {"reason": "test"})(api)


def _prepare_day_list(api):
    slots = _site(api)
    api.book(slots[0]["slot_id"], applicant(1))
    return lambda: _staff("GET", f"/staff/sites/{SITE}/bookings?date={slots[0]['starts_at'][:10]}", groups=AGENT)(api)


def _prepare_partner_search(api):
    _site(api)
    partner = _partner(api)
    return lambda: api.call("GET", f"/partner/sites/{SITE}/slots?procedure={PROCEDURE}", headers=api.partner_headers(partner))


def _prepare_partner_hold(api):
    slots = _site(api)
    partner = _partner(api)
    return lambda: api.partner_hold(partner, slots[0]["slot_id"], applicant(1))


def _prepare_partner_confirm(api):
    slots = _site(api)
    partner = _partner(api)
    hold = api.partner_hold(partner, slots[0]["slot_id"], applicant(1)).body
    return lambda: api.partner_confirm(partner, hold)


def _prepare_partner_bookings(api):
    slots = _site(api)
    partner = _partner(api)
    api.partner_book(partner, slots[0]["slot_id"], applicant(1))
    return lambda: api.partner_bookings(partner)


def _prepare_partner_cancel(api):
    slots = _site(api)
    partner = _partner(api)
    booking = api.partner_book(partner, slots[0]["slot_id"], applicant(1))
    return lambda: api.partner_cancel(partner, booking["booking_id"])


def _prepare_partner_request(api):
    _site(api)
    partner = _partner(api)
    return lambda: api.call("POST", "/partner/requests", _request_body(1), api.partner_headers(partner))


def _prepare_create_partner(api):
    api.create_site()  # the site its key acts on
    return lambda: _staff("POST", "/staff/partners", {"name": "Asso", "daily_quota": 5, "sites": [SITE]})(api)


def _prepare_list_partners(api):
    _partner(api)
    return lambda: _staff("GET", "/staff/partners")(api)


def _prepare_revoke_partner(api):
    partner = _partner(api)
    return lambda: _staff("DELETE", f"/staff/partners/{partner['partner_id']}")(api)


def _prepare_check_in(api):
    booking = _booked(api)
    person = applicant(1)
    body = {"document": person["document"], "birth_date": person["birth_date"]}
    return lambda: _staff("POST", f"/staff/bookings/{booking['booking_id']}/check-in", body, AGENT)(api)


def _prepare_check_in_mismatch(api):
    booking = _booked(api)
    person = applicant(2)
    body = {"document": person["document"], "birth_date": person["birth_date"]}
    return lambda: _staff("POST", f"/staff/bookings/{booking['booking_id']}/check-in", body, AGENT)(api)


def _prepare_no_show(api):
    from chalicelib.platform.clock import epoch_of

    slots = _site(api)
    booking = api.book(slots[0]["slot_id"], applicant(1))
    clock.advance(epoch_of(slots[0]["starts_at"]) - clock.now() + 60)
    return lambda: _staff("POST", f"/staff/bookings/{booking['booking_id']}/no-show", groups=AGENT)(api)


def _prepare_close_booked(api):
    booking = _booked(api)
    return lambda: _staff("POST", f"/staff/slots/{booking['slot']['slot_id']}/close", groups=AGENT)(api)


def _prepare_close_held(api):
    slots = _site(api)
    api.hold(slots[0]["slot_id"], applicant(1))
    return lambda: _staff("POST", f"/staff/slots/{slots[0]['slot_id']}/close", groups=AGENT)(api)


def _prepare_signals(api):
    _booked(api)
    return lambda: _staff("GET", "/staff/signals", groups=AGENT)(api)


def _prepare_partner_history(api):
    partner = _partner(api)
    return lambda: _staff("GET", f"/staff/partners/{partner['partner_id']}/history")(api)


def _prepare_slot_history(api):
    booking = _booked(api)
    return lambda: _staff("GET", f"/staff/slots/{booking['slot']['slot_id']}/history", groups=AGENT)(api)


def _prepare_booking_history(api):
    booking = _booked(api)
    return lambda: _staff("GET", f"/staff/bookings/{booking['booking_id']}/history", groups=AGENT)(api)


def _prepare_health(api):
    return lambda: api.call("GET", "/health")


def _prepare_openapi(api):
    return lambda: api.call("GET", "/openapi.json")


def _prepare_sites(api):
    _site(api)
    return lambda: api.call("GET", "/sites")


def _job(name):
    """A scheduled function: it raises StorageUnavailable (Lambda retries it) or returns."""

    def prepare(api):
        import app as application

        if name == "send_reminders":
            _booked(api)
            clock.advance(86400)  # the booking is tomorrow's
        else:
            _filed(api)
        function = getattr(application, name).func

        class Outcome:
            def __init__(self, status):
                self.status, self.code, self.headers, self.body = status, None, {"retry-after": "2"}, None

        def run():
            try:
                function({})
                return Outcome(200)
            except StorageUnavailable:
                return Outcome(503)

        return run

    return prepare


# (route or use case, prepare, status when it works, does it write, does it touch DynamoDB)
CASES = [
    ("GET /health", _prepare_health, 200, False, False),
    ("GET /openapi.json", _prepare_openapi, 200, False, False),
    ("GET /sites", _prepare_sites, 200, False, True),
    ("GET /sites/{site_id}/slots", _prepare_search, 200, False, True),
    ("POST /verifications", _prepare_verification, 202, True, True),
    ("POST /verifications/{verification_id}", _prepare_verification_code, 201, True, True),
    ("POST /holds", _prepare_hold, 201, True, True),
    ("POST /holds (refused by the cooldown, counted)", _prepare_hold_in_cooldown, 429, True, True),
    ("DELETE /holds/{hold_id}", _prepare_release, 204, True, True),
    ("POST /bookings", _prepare_confirm, 201, True, True),
    ("GET /bookings/{booking_id}", _prepare_get_booking, 200, False, True),
    ("POST /bookings/lookup", _prepare_lookup, 202, True, True),
    ("DELETE /bookings/{booking_id}", _prepare_cancel, 204, True, True),
    ("POST /requests", _prepare_file_request, 201, True, True),
    ("GET /requests/{request_id}", _prepare_get_request, 200, False, True),
    ("DELETE /requests/{request_id}", _prepare_withdraw, 204, True, True),
    ("DELETE /requests/{request_id} (an offer)", _prepare_withdraw_offer, 204, True, True),
    ("GET /sites/{site_id}/procedures/{procedure_id}/draws", _prepare_public_draws, 200, False, True),
    ("GET /sites/{site_id}/procedures/{procedure_id}/draws/{draw_id}/record", _prepare_draw_record, 200, False, True),
    ("GET /stats/{site_id}", _prepare_stats, 200, False, True),
    ("POST /staff/sites", _prepare_create_site, 201, True, True),
    ("GET /staff/sites/{site_id}/procedures/{procedure_id}/policy", _prepare_get_policy, 200, False, True),
    ("PUT /staff/sites/{site_id}/procedures/{procedure_id}/policy", _prepare_put_policy, 200, True, True),
    ("POST /staff/sites/{site_id}/schedules", _prepare_schedule, 201, True, True),
    ("GET /staff/sites/{site_id}/history", _prepare_site_history, 200, False, True),
    ("POST /staff/sites/{site_id}/procedures/{procedure_id}/draws", _prepare_run_draw, 200, True, True),
    ("GET /staff/sites/{site_id}/bookings", _prepare_day_list, 200, False, True),
    ("GET /partner/sites/{site_id}/slots", _prepare_partner_search, 200, False, True),
    ("POST /partner/holds", _prepare_partner_hold, 201, True, True),
    ("POST /partner/bookings", _prepare_partner_confirm, 201, True, True),
    ("GET /partner/bookings", _prepare_partner_bookings, 200, False, True),
    ("DELETE /partner/bookings/{booking_id}", _prepare_partner_cancel, 204, True, True),
    ("POST /partner/requests", _prepare_partner_request, 201, True, True),
    ("POST /staff/partners", _prepare_create_partner, 201, True, True),
    ("GET /staff/partners", _prepare_list_partners, 200, False, True),
    ("DELETE /staff/partners/{partner_id}", _prepare_revoke_partner, 204, True, True),
    ("POST /staff/bookings/{booking_id}/check-in", _prepare_check_in, 200, True, True),
    ("POST /staff/bookings/{booking_id}/check-in (mismatch, a signal)", _prepare_check_in_mismatch, 200, True, True),
    ("POST /staff/sites/{site_id}/identities/release", _prepare_release_identity, 200, True, True),
    ("POST /staff/bookings/{booking_id}/no-show", _prepare_no_show, 200, True, True),
    ("POST /staff/slots/{slot_id}/close", _prepare_close_booked, 200, True, True),
    ("POST /staff/slots/{slot_id}/close (a held slot)", _prepare_close_held, 200, True, True),
    ("GET /staff/signals", _prepare_signals, 200, False, True),
    ("GET /staff/partners/{partner_id}/history", _prepare_partner_history, 200, False, True),
    ("GET /staff/slots/{slot_id}/history", _prepare_slot_history, 200, False, True),
    ("GET /staff/bookings/{booking_id}/history", _prepare_booking_history, 200, False, True),
    ("job run_due_draws", _job("run_due_draws"), 200, True, True),
    ("job send_reminders", _job("send_reminders"), 200, True, True),
]


def test_every_route_has_a_case():
    import app as application

    routes = {f"{method} {path}" for path, methods in application.app.routes.items() for method in methods
              if method != "OPTIONS"}
    covered = {name.split(" (")[0] for name, *_ in CASES}
    assert routes - covered == set(), "add a case for each new route"


@pytest.mark.parametrize("name, prepare, ok, writes, touches", CASES, ids=[c[0] for c in CASES])
def test_storage_faults_are_retried_then_503_never_500_nor_a_false_409(api, faults, name, prepare, ok, writes, touches):
    attempts = config.current().storage_attempts
    call = prepare(api)
    for kind in KINDS:
        for scope in ("writes", "all"):
            faults(kind, scope, persistent=True)
            reply = call()
            faults()
            fails = touches and (writes or (scope == "all" and kind != "TransactionConflict"))
            if not fails:
                assert reply.status == ok, (kind, scope, reply)
                continue
            assert reply.status == 503, (kind, scope, reply)
            assert int(reply.headers["retry-after"]) > 0
    # Each storage call is tried STORAGE_ATTEMPTS times, with random pauses, before the 503.
    faults("ThrottlingException", "all", persistent=True)
    call()
    injected, pauses = faults.state["injected"], list(faults.pauses)
    faults()
    if touches:
        assert injected == attempts, (injected, attempts)
        assert len(pauses) == attempts - 1 and len(set(pauses)) == len(pauses), pauses
        assert all(0 <= p <= 0.05 * 2 ** n for n, p in enumerate(pauses)), pauses
    # Transient: every first attempt fails, every retry succeeds: the call works as if nothing happened.
    for kind in KINDS[:1] if writes else KINDS[1:2]:
        faults(kind, "all", persistent=False)
        reply = call()
        injected = faults.state["injected"]
        faults()
        assert reply.status == ok, (kind, reply)
        assert injected > 0 or not touches


def test_a_cancellation_naming_a_failed_condition_is_that_answer_not_retried(api, monkeypatch):
    """A conflict on one item alongside a failed condition on another is an answer, not contention."""
    slots = _site(api)
    sent = []

    def call(send, service, operation_name, api_params):
        if operation_name == "TransactWriteItems":
            sent.append(api_params["ClientRequestToken"])
            n = len(api_params["TransactItems"])
            reasons = [{"Code": "ConditionalCheckFailed"}, {"Code": "TransactionConflict"}] + [{"Code": "None"}] * (n - 2)
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"},
                               "CancellationReasons": reasons}, operation_name)
        return send()

    at_the_wire(monkeypatch, call)
    reply = api.hold(slots[0]["slot_id"], applicant(1))
    assert reply.status == 409 and len(sent) == 1, reply


def test_a_retried_transaction_is_sent_with_the_same_token(api, faults, monkeypatch):
    """ClientRequestToken: DynamoDB applies a transaction retried after a lost answer only once."""
    slots = _site(api)
    tokens = []

    def spy(send, service, operation_name, api_params):
        if operation_name == "TransactWriteItems":
            tokens.append(api_params.get("ClientRequestToken"))
        return send()

    at_the_wire(monkeypatch, spy)
    faults("ThrottlingException", "writes", persistent=False)
    assert api.hold(slots[0]["slot_id"], applicant(1)).status == 201
    assert api.hold(slots[1]["slot_id"], applicant(2)).status == 201
    assert len(tokens) == 4 and tokens[0] == tokens[1] and tokens[2] == tokens[3] and tokens[0] != tokens[2]


def test_every_public_storage_function_goes_through_the_wrapper(engine, faults):
    import importlib
    import inspect
    import pkgutil

    guarded, modules = [], {info.name for info in pkgutil.iter_modules(storage.__path__)}
    assert set(storage.AGGREGATES) <= modules  # a new aggregate module is listed, so walked below
    for name in storage.AGGREGATES:
        module = importlib.import_module(f"chalicelib.storage.{name}")
        for name, value in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(value) or value.__module__ != module.__name__:
                continue
            if name not in calls.UNGUARDED:
                assert getattr(value, "storage_guarded", False), f"{module.__name__}.{name} is not guarded"
                guarded.append(name)
    assert {"get_slot", "search_holdable_slots", "hold_slot_if_available", "bookings_of_partner", "history_of"} <= set(guarded)
    # Every public name of the package is one of those (or table setup).
    for name in storage.__all__:
        value = getattr(storage, name)
        assert not inspect.isfunction(value) or getattr(value, "storage_guarded", False) or name in calls.UNGUARDED, name
    # Storage's reads go through the shared connection, so they are retried; a bare model call
    # (its own client, no retry point: tests/unit/test_layers.py keeps them out of storage) inside
    # a guarded function is still mapped to a 503.
    faults("ThrottlingException", "all", persistent=True)
    with pytest.raises(StorageUnavailable):
        storage.get_slot("slot_x")
    assert faults.state["injected"] == config.current().storage_attempts
    with pytest.raises(StorageUnavailable):
        calls.guarded(lambda: models.IdentityState.get("someone", "hold"))()


def test_one_botocore_client_serves_every_model(engine, monkeypatch):
    """Threads racing on a cold process, each making every kind of storage call (GetItem, PutItem,
    UpdateItem, Query of a table and of an index, BatchGetItem, TransactWriteItems) on several
    models, build ONE botocore client, and every operation goes through the one shared connection
    (connection.py), whose dispatch is the retry point."""
    import botocore.session
    from pynamodb.connection import Connection

    from chalicelib.storage.transaction import Transaction

    created, dispatched = [], []
    create_client, dispatch = botocore.session.Session.create_client, Connection.dispatch

    def counting(self, service_name, *args, **kwargs):
        created.append(service_name)
        return create_client(self, service_name, *args, **kwargs)

    def recording(self, operation_name, operation_kwargs):
        dispatched.append((self, operation_name))
        return dispatch(self, operation_name, operation_kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    monkeypatch.setattr(Connection, "dispatch", recording)
    connection.reset()
    start, failures = threading.Barrier(6), []

    def work(n):
        try:
            start.wait()
            key = f"counter-{n}"
            assert calls.save_if(models.Counter(key, n=0, expires_ttl=10**10), models.Counter.counter_key.does_not_exist(),
                                 label="counter").ok
            assert calls.update_if(models.Counter(key), [models.Counter.n.add(1)], models.Counter.n == 0, label="counter").ok
            assert calls.update_if(models.Counter(key), [models.Counter.n.add(1)], models.Counter.n == 0,
                                   label="counter").conditions == {"counter"}
            tx = Transaction()
            tx.put("scope", models.IdentityState(f"identity-{n}", "hold", hold_id=f"hold-{n}"),
                   models.IdentityState.identity_key.does_not_exist())
            tx.update("counter", models.Counter(key), [models.Counter.n.add(1)], models.Counter.n == 1)
            assert tx.commit() == {}
            assert calls.get(models.Counter, key).n == 2
            assert calls.get(models.IdentityState, f"identity-{n}", "hold").hold_id == f"hold-{n}"
            assert calls.get(models.Site, "site", "nowhere") is None
            assert [s.scope for s in calls.query_all(models.IdentityState, f"identity-{n}")] == ["hold"]
            assert calls.query_all(models.Slot, "nowhere#nothing", index=models.Slot.search) == []
            assert {c.counter_key for c in calls.batch_get(models.Counter, [key, "counter-none"])} == {key}
        except Exception as exc:  # noqa: BLE001 -- reported below, with the thread's number
            failures.append((n, exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert created == ["dynamodb"], created
    shared = connection.connection()
    assert {c for c, _ in dispatched} == {shared}, "an operation went around the shared connection"
    assert {op for _, op in dispatched} == {"GetItem", "PutItem", "UpdateItem", "Query", "BatchGetItem", "TransactWriteItems"}


def test_a_batch_get_asks_again_for_the_keys_dynamodb_left_unprocessed(engine, monkeypatch):
    """BatchGetItem may answer part of the keys and hand the rest back (UnprocessedKeys): they are
    asked again until none is left, as PynamoDB's Model.batch_get does."""
    for n in range(3):
        assert calls.save_if(models.Counter(f"counter-{n}", expires_ttl=10**10), None, label="counter").ok
    asked = []

    def partial(send, service, operation_name, api_params):
        answer = send()
        if operation_name == "BatchGetItem":
            table = models.Counter.Meta.table_name
            asked.append(sorted(k["counter_key"]["S"] for k in api_params["RequestItems"][table]["Keys"]))
            items = answer["Responses"][table]
            if len(items) > 1:  # answer one, leave the others unprocessed
                answer["UnprocessedKeys"] = {table: {"Keys": [{"counter_key": i["counter_key"]} for i in items[1:]]}}
                answer["Responses"][table] = items[:1]
        return answer

    at_the_wire(monkeypatch, partial)
    found = calls.batch_get(models.Counter, ["counter-0", "counter-1", "counter-2", "counter-0"])
    assert sorted(c.counter_key for c in found) == ["counter-0", "counter-1", "counter-2"]
    assert [len(keys) for keys in asked] == [3, 2, 1]


@pytest.mark.parametrize("reason, retried", [
    ("ValidationError", False),
    ("ItemCollectionSizeLimitExceeded", False),
    ("SomethingDynamoDBAddsTomorrow", False),
    ("ProvisionedThroughputExceeded", True),
    ("ThrottlingError", True),
])
def test_a_transaction_cancelled_for_any_reason_but_a_condition_is_a_storage_error(api, monkeypatch, reason, retried):
    """No phantom writes: a cancelled transaction wrote nothing, so unless a condition failed (the
    answer), it is a 503 (tried again first when the reason is capacity), never a 201 for a hold
    that does not exist."""
    monkeypatch.setattr(connection, "pause", lambda seconds: None)
    slots = _site(api)
    sent = []

    def call(send, service, operation_name, api_params):
        if operation_name == "TransactWriteItems":
            sent.append(api_params["ClientRequestToken"])
            n = len(api_params["TransactItems"])
            reasons = [{"Code": "None"}] * (n - 1) + [{"Code": reason, "Message": "injected"}]
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"},
                               "CancellationReasons": reasons}, operation_name)
        return send()

    at_the_wire(monkeypatch, call)
    reply = api.hold(slots[0]["slot_id"], applicant(1))
    assert reply.status == 503 and int(reply.headers["retry-after"]) > 0, reply
    assert len(sent) == (config.current().storage_attempts if retried else 1), sent
    monkeypatch.undo()
    assert slots[0]["slot_id"] in {s["slot_id"] for s in api.slots()}


def test_a_lone_surrogate_the_engine_refuses_is_never_a_hold(api, monkeypatch):
    """The engine cancels a transaction holding a lone surrogate (ValidationError). With the
    contract's text rule switched off, storage alone still answers 503, not a 201 for a hold that
    was never written; with it on, the request never gets that far: 422 naming the field."""
    from chalicelib.rules import plain_text

    slots = _site(api)
    person = dict(applicant(1), family_name="\ud800")
    refused = api.hold(slots[0]["slot_id"], person)
    assert refused.status == 422 and refused.body["error"]["details"]["field"] == "applicant.family_name", refused
    monkeypatch.setattr(plain_text, "refused_character", lambda text: None)
    reply = api.hold(slots[0]["slot_id"], person)
    assert reply.status == 503, reply
    assert slots[0]["slot_id"] in {s["slot_id"] for s in api.slots()}
