"""The insider re-roll (SPEC R6): can someone who reads the tables re-file until his ticket ranks first?

Runs the API in process (Chalice test client on moto's in-memory DynamoDB, as the tests do). For
each trial, a fresh site in draw mode with SLOTS slots: HONEST entrants file once; the insider
files, then withdraws and refiles CYCLES times (a new request id each time), reading every item
of every table after each filing, as an operator with table access could. Printed per trial and
in all:
- reads in which the committed seed could be found in the tables (any item text holding a value
  whose SHA-256 is the published commitment): target 0;
- the insider's rank in the draw's order after each refiling, as the draw function would compute
  it if the draw ran then (the seed opened behind the API's back): target one rank, no change;
- for contrast, the ranks the same request ids would have drawn under the old rule (tickets named
  by request id): how much a re-roll bought before;
- whether the insider got an offer when the draw ran (fair odds SLOTS/(HONEST+1)).

    python bench/insider_reroll.py [--trials 5] [--honest 30] [--cycles 45] [--slots 3]
"""
import argparse
import hashlib
import os
import re
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.in_process import use_in_process_engine  # noqa: E402

use_in_process_engine()


def seed_in_tables(client, seed_hash):
    """Whether any 64-hex value in any item of any table is the seed behind `seed_hash`."""
    for table in client.list_tables()["TableNames"]:
        for item in client.scan(TableName=table)["Items"]:
            for value in re.findall(r"\b[0-9a-f]{64}\b", str(item)):
                if hashlib.sha256(bytes.fromhex(value)).hexdigest() == seed_hash:
                    return True
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--honest", type=int, default=30)
    parser.add_argument("--cycles", type=int, default=45)
    parser.add_argument("--slots", type=int, default=3)
    args = parser.parse_args()

    from devlocal import serial_moto

    serial_moto.apply()
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    import app as application
    from chalicelib import storage
    from chalicelib.platform import clock
    from chalicelib.rules import lottery
    from chalicelib.usecases import draw_runs, draw_terms, site_catalog
    from tests.support import PROCEDURE, Api, applicant

    def rank(site, request_id, old_rule=False):
        draw = next(d for d in storage.draws_of(site, PROCEDURE) if d.status == "committed")
        entrants, *_ = draw_runs._entrants_and_slots(draw, site_catalog.policy(site, PROCEDURE), "Europe/Paris", clock.now())
        if old_rule:
            entrants = [{k: v for k, v in e.items() if k != "entrant_tag"} for e in entrants]
        order = lottery.draw_order(entrants, draw_terms.committed_seed(draw))
        return [e["request_id"] for e in order].index(request_id)  # 0: first

    totals = {"reads": 0, "seed_found": 0, "trials_one_rank": 0, "offered": 0, "old_distinct": 0, "old_first": 0}
    with mock_aws(), tempfile.TemporaryDirectory() as project, Client(application.app, project_dir=project) as client:
        storage.ensure_tables()
        tables = boto3.client("dynamodb", region_name="eu-west-3")
        api = Api(client, staff_secret=os.environ["STAFF_JWT_SECRET"])
        for trial in range(args.trials):
            site = f"reroll-{trial}"
            api.create_site(site_id=site)
            api.set_policy(site_id=site, allocation="draw", offer_ttl_seconds=600, max_holds_per_ip_per_hour=1000)
            api.schedule(site_id=site, closes=f"{9 + args.slots:02d}:00")
            seed_hash = api.draws(site_id=site)[0]["seed_hash"]

            def file(n, ip, site=site):
                body = {"site_id": site, "procedure_id": PROCEDURE, "applicant": applicant(n),
                        "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
                reply = api.call("POST", "/requests", body, {"X-Forwarded-For": ip})
                assert reply.status == 201, reply
                return reply.body

            for n in range(args.honest):
                file(1000 * trial + n, f"198.51.100.{n % 250}")
            insider = file(999_999 - trial, "203.0.113.1")
            ranks, old_ranks, found = [], [], 0
            for cycle in range(args.cycles + 1):
                if cycle:
                    assert api.call("DELETE", f"/requests/{insider['request_id']}",
                                    headers={"X-Request-Token": insider["request_token"]}).status == 204
                    insider = file(999_999 - trial, f"203.0.113.{1 + cycle % 250}")
                found += seed_in_tables(tables, seed_hash)
                ranks.append(rank(site, insider["request_id"]))
                old_ranks.append(rank(site, insider["request_id"], old_rule=True))
            ran = api.call("POST", f"/staff/sites/{site}/procedures/{PROCEDURE}/draws", {"reason": "bench"}, headers=api.staff_headers())
            assert ran.status == 200, ran
            offered = api.call("GET", f"/requests/{insider['request_id']}",
                               headers={"X-Request-Token": insider["request_token"]}).body["status"] == "offered"
            print(f"trial {trial + 1}: {args.honest} honest + insider, {args.cycles} file/withdraw cycles: seed found in the tables "
                  f"{found}/{args.cycles + 1} reads; insider's rank after each filing: {sorted({r + 1 for r in ranks})} "
                  f"(old rule: {len(set(old_ranks))} distinct ranks, best {min(old_ranks) + 1}); offered: {offered}")
            totals["reads"] += args.cycles + 1
            totals["seed_found"] += found
            totals["trials_one_rank"] += len(set(ranks)) == 1
            totals["offered"] += offered
            totals["old_distinct"] += len(set(old_ranks))
            totals["old_first"] += min(old_ranks) == 0
    n = args.trials
    print(f"| insider re-roll | draw | {n} | – | – | {totals['offered']}/{n} offered | {args.slots}/{args.honest + 1} | "
          f"{args.cycles} file/withdraw cycles against {args.honest} honest entrants, the tables read after each filing: "
          f"seed found {totals['seed_found']}/{totals['reads']} reads; rank unchanged in {totals['trials_one_rank']}/{n} trials "
          f"(target: no change of rank); under the old rule (ticket by request id) the same cycles gave "
          f"{totals['old_distinct'] / n:.1f} distinct ranks per trial and rank 1 in {totals['old_first']}/{n} trials |")


if __name__ == "__main__":
    main()
