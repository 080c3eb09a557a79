"""Nobody can know or steer a ticket before entries close, the operator included (SPEC R6).

An insider who reads the tables finds no seed before the draw runs; refiling a request (a new
request id) draws the same ticket; the entrants are fixed by a published hash; a staff-run draw
is audited and refused before the procedure's interval unless an admin says why (published)."""
from datetime import date, timedelta

import boto3

from chalicelib import storage
from chalicelib.platform import clock
from chalicelib.rules import lottery
from chalicelib.usecases import draw_runs, draw_terms, site_catalog
from tests.support import PROCEDURE, SITE, applicant

DRAW = {"allocation": "draw", "offer_ttl_seconds": 600, "cooldown_seconds": 1000, "draw_interval_seconds": 3600}
DRAWS = f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws"
EARLY = {"reason": "test"}


def draw_site(api):
    api.create_site()
    api.set_policy(**DRAW)
    api.schedule()
    return api


def file(api, n):
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(n),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
    reply = api.call("POST", "/requests", body, {"X-Forwarded-For": f"198.51.100.{n % 250}"})  # under the per-IP cap
    assert reply.status == 201, reply
    return reply.body


def withdraw(api, request):
    reply = api.call("DELETE", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]})
    assert reply.status == 204, reply


def dump_tables():
    client = boto3.client("dynamodb", region_name="eu-west-3")
    return "".join(str(client.scan(TableName=t)["Items"]) for t in client.list_tables()["TableNames"])


def rank_of(request_id):
    """Where the request stands in the committed draw's order if it ran now: the insider's
    question, answered here behind the API's back (with the seed only the draw function opens)."""
    draw = next(d for d in storage.draws_of(SITE, PROCEDURE) if d.status == "committed")
    entrants, *_ = draw_runs._entrants_and_slots(draw, site_catalog.policy(SITE, PROCEDURE), "Europe/Paris", clock.now())
    order = lottery.draw_order(entrants, draw_terms.committed_seed(draw))
    return [e["request_id"] for e in order].index(request_id)


def test_withdrawing_and_refiling_never_changes_a_tickets_rank(api):
    """The insider re-roll: file, withdraw and refile against 30 honest entrants; the rank stays."""
    draw_site(api)
    for n in range(30):
        file(api, n)
    insider = file(api, 999)
    first = rank_of(insider["request_id"])
    ranks = set()
    for _ in range(12):
        withdraw(api, insider)
        insider = file(api, 999)
        ranks.add(rank_of(insider["request_id"]))
    assert ranks == {first}
    run = api.call("POST", DRAWS, EARLY, headers=api.staff_headers())
    assert run.status == 200, run
    record = api.draw_record(api.draws()[1])  # [0]: the next commitment
    order = lottery.draw_order(record["entrants"], record["seed"])
    assert [e["request_id"] for e in order].index(insider["request_id"]) == first
    assert [list(p) for p in lottery.allocate(record["entrants"], record["slots"], record["seed"])] == record["allocation"]


def test_the_seed_is_in_no_table_before_the_draw_runs_and_published_after(api, engine):
    draw_site(api)
    for n in range(3):
        file(api, n)
    committed = api.draws()[0]
    before = dump_tables()
    assert committed["seed_hash"] in before and "seed" not in committed
    assert api.call("POST", DRAWS, EARLY, headers=api.staff_headers()).status == 200
    ran = next(d for d in api.draws() if d["draw_id"] == committed["draw_id"])
    assert lottery.seed_commitment(ran["seed"]) == committed["seed_hash"]
    assert ran["seed"] not in before
    assert ran["seed"] in dump_tables()  # revealed once the allocation is recorded


def test_the_entrants_are_fixed_by_a_published_hash(api):
    draw_site(api)
    requests = [file(api, n) for n in range(4)]
    assert api.call("POST", DRAWS, EARLY, headers=api.staff_headers()).status == 200
    record = api.draw_record(api.draws()[1])  # [0]: the next commitment
    assert lottery.entrants_digest(record["entrants"]) == record["entrants_hash"]
    assert {e["request_id"] for e in record["entrants"]} == {r["request_id"] for r in requests}
    assert all(len(e["entrant_tag"]) == 32 for e in record["entrants"])
    tampered = [dict(e) for e in record["entrants"]]
    tampered[0]["tier"] = 1 if tampered[0]["tier"] == 2 else 2
    assert lottery.entrants_digest(tampered) != record["entrants_hash"]


def test_a_staff_draw_sooner_than_the_interval_is_refused_unless_an_admin_gives_a_reason(api):
    draw_site(api)
    file(api, 1)
    refused = api.call("POST", DRAWS, headers=api.staff_headers())
    assert refused.status == 409 and refused.code == "draw_too_soon"
    assert 3500 <= int(refused.headers["retry-after"]) <= 3600
    assert api.call("POST", DRAWS, {}, headers=api.staff_headers()).code == "draw_too_soon"
    reason = "Counter closed on Friday: draw brought forward."
    ran = api.call("POST", DRAWS, {"reason": reason}, headers=api.staff_headers())
    assert ran.status == 200 and ran.body["entrants"] == 1
    published = api.draws()[1]
    assert published["early_reason"] == reason and published["run_by"] == "staff"
    history = api.call("GET", f"/staff/sites/{SITE}/history", headers=api.staff_headers(("agents",))).body["history"]
    audited = [e for e in history if e["action"] == "draw_run"]
    assert len(audited) == 1 and audited[0]["actor"] == "staff:tester"
    assert audited[0]["details"]["early_reason"] == reason and audited[0]["details"]["draw_id"] == published["draw_id"]
    # Right after that draw: too soon again; an interval later, no reason is needed and none is published.
    file(api, 2)
    assert api.call("POST", DRAWS, headers=api.staff_headers()).code == "draw_too_soon"
    clock.advance(3601)
    assert api.call("POST", DRAWS, headers=api.staff_headers()).status == 200
    latest = api.draws()[1]
    assert latest["run_by"] == "staff" and "early_reason" not in latest


def test_an_agent_cannot_run_a_draw(api):
    draw_site(api)
    file(api, 1)
    assert api.call("POST", DRAWS, EARLY, headers=api.staff_headers(("agents",))).status == 403
