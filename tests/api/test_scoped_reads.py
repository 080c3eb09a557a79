"""Smaller leaks (docs/deploy.md, "What was verified offline"): the slot history route reads slots only, an anonymous draws
list never writes (the next draw is committed by writers), and a deployed stage has no localhost
CORS fallback."""
import pytest

from chalicelib.platform import clock
from chalicelib.storage.models import Draw
from chalicelib.usecases import draw_runs
from tests.support import PROCEDURE, SITE, applicant

AGENT = ("agents",)
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def test_the_slot_history_route_reads_slots_only(api):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    partner = api.create_partner()
    slot_route = lambda entity_id: api.call("GET", f"/staff/slots/{entity_id}/history",  # noqa: E731
                                            headers=api.staff_headers(AGENT))
    assert slot_route(slots[0]["slot_id"]).status == 200
    assert [e["action"] for e in slot_route(slots[0]["slot_id"]).body["history"]] == ["hold_taken", "booked"]
    # The partner's history is admins' only (its own route); through the slot route: no such slot.
    admin_only = api.call("GET", f"/staff/partners/{partner['partner_id']}/history", headers=api.staff_headers(AGENT))
    assert admin_only.status == 403
    for other in (partner["partner_id"], booking["booking_id"], "slot_nope"):
        reply = slot_route(other)
        assert reply.status == 404 and reply.body["error"]["code"] == "slot_not_found", other
        assert "history" not in reply.body


def _draws_table():
    # Draw items only: a run's record chunks share the table, in partitions of their own.
    return sorted((d.draw_pk, d.draw_id, d.status) for d in Draw.scan() if not d.draw_pk.startswith("record#"))


def test_an_anonymous_draws_list_never_writes(api, calls):
    api.create_site()
    api.set_policy(allocation="draw")
    committed = _draws_table()
    assert [status for _, _, status in committed] == ["committed"]  # written by the policy change
    calls.clear()
    for _ in range(3):
        reply = api.call("GET", f"/sites/{SITE}/procedures/{PROCEDURE}/draws")
        assert reply.status == 200 and [d["status"] for d in reply.body["draws"]] == ["committed"]
    assert not set(calls) & WRITES, calls
    assert _draws_table() == committed


def _forget_commitments():
    for draw in Draw.scan():
        if draw.status == "committed":
            draw.delete()


def test_writers_commit_the_next_draw(api, calls):
    api.create_site()
    api.set_policy(allocation="draw", draw_interval_seconds=3600)
    _forget_commitments()  # a procedure left without one (e.g. made draw before this change)
    calls.clear()
    assert api.call("GET", f"/sites/{SITE}/procedures/{PROCEDURE}/draws").body["draws"] == []
    assert not set(calls) & WRITES
    api.schedule()  # publishing a schedule for a draw procedure commits its next draw
    assert [s for _, _, s in _draws_table()] == ["committed"]
    # A draw run commits the next one (and reveals its own seed).
    reply = api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers())
    assert reply.status == 200
    assert sorted(s for _, _, s in _draws_table()) == ["committed", "run"]
    # The scheduled job commits for a draw procedure that has none and is not due yet.
    _forget_commitments()
    assert draw_runs.run_due_draws(clock.now()) == []
    assert sorted(s for _, _, s in _draws_table()) == ["committed", "run"]


@pytest.mark.parametrize("allocation", ["fcfs", "auto"])
def test_only_draw_mode_commits_ahead_of_requests(api, allocation):
    # In auto the first standby request commits the draw (draws.file_request), not a schedule.
    api.ready_site(allocation=allocation)
    assert _draws_table() == []


CONFIG = "from chalicelib.platform import config; print(','.join(config.current().cors_origins))"


@pytest.mark.parametrize("env, ok, origins", [
    ({}, True, "http://127.0.0.1:8080,http://localhost:8080"),  # a laptop keeps the localhost default
    ({"AWS_LAMBDA_FUNCTION_NAME": "f", "FAIRSLOT_STAGE": "dev", "CORS_ORIGINS": "http://localhost:8080"}, True,
     "http://localhost:8080"),  # dev names localhost itself (.chalice/config.json)
    ({"AWS_LAMBDA_FUNCTION_NAME": "f", "FAIRSLOT_STAGE": "prod"}, False, None),
    ({"AWS_LAMBDA_FUNCTION_NAME": "f", "FAIRSLOT_STAGE": "prod", "CORS_ORIGINS": "http://localhost:8080"}, False, None),
    ({"AWS_LAMBDA_FUNCTION_NAME": "f", "FAIRSLOT_STAGE": "prod", "CORS_ORIGINS": "https://rdv.example.org"}, True,
     "https://rdv.example.org"),
])
def test_cors_origins_have_no_localhost_fallback_in_aws(env, ok, origins):
    from tests.infra.conftest import run_python

    staff = {"STAFF_JWKS_URL": "https://pool/jwks", "STAFF_JWT_ISSUER": "https://pool", "STAFF_JWT_AUDIENCE": "client"}
    result = run_python(CONFIG, env={**staff, **env})
    assert (result.returncode == 0) is ok, result.stderr
    if ok:
        assert result.stdout.strip() == origins
    else:
        assert "CORS" in result.stderr
