"""Measures one large draw: its record's size and chunks, and the DynamoDB calls the run makes.

Runs the API in process (Chalice test client on moto's in-memory DynamoDB, as the tests do):
publishes SLOTS free slots, files ENTRANTS requests, runs the draw through the staff endpoint,
then reads the record back page by page and replays it. Prints the record's bytes per part, the
chunks (pages), the DynamoDB operations of the run and of reading the record, and the wall time
on this machine (moto, not DynamoDB: only the counts carry over).

    python bench/draw_record.py [--slots 8040] [--entrants 50]
"""
import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.in_process import use_in_process_engine  # noqa: E402

use_in_process_engine(
    DRAW_STAFF_BUDGET_SECONDS="3600",  # moto is slower than DynamoDB: one call does the whole draw
)


def counting_calls():
    import botocore.client

    seen, original = Counter(), botocore.client.BaseClient._make_api_call

    def call(self, operation_name, api_params):
        if self.meta.service_model.service_name == "dynamodb":
            seen[operation_name] += 1
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = call
    return seen


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=8040, help="free slots (5-minute slots, 120 a day per counter)")
    parser.add_argument("--entrants", type=int, default=50)
    args = parser.parse_args()

    from devlocal import serial_moto

    serial_moto.apply()
    from chalice.test import Client
    from moto import mock_aws

    import app as application
    from chalicelib import storage
    from chalicelib.rules import lottery
    from tests.support import PROCEDURE, SITE, Api, applicant

    seen = counting_calls()
    with mock_aws(), tempfile.TemporaryDirectory() as project, Client(application.app, project_dir=project) as client:
        storage.ensure_tables()
        api = Api(client, staff_secret=os.environ["STAFF_JWT_SECRET"])
        api.create_site()
        api.set_policy(allocation="draw", offer_ttl_seconds=600, max_holds_per_ip_per_hour=1000)
        made, day = 0, 2  # a schedule creates at most 5,000 slots: one day of up to 40 counters each
        while made < args.slots:
            counters = min(40, -(-(args.slots - made) // 120))
            made += api.schedule(opens="08:00", closes="18:00", slot_minutes=5, counters=counters, start_in_days=day)
            day += 1
        committed = api.draws()[0]
        for n in range(args.entrants):
            body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(n),
                    "from": time.strftime("%Y-%m-%d"), "to": time.strftime("%Y-%m-%d", time.localtime(time.time() + 30 * 86400))}
            filed = api.call("POST", "/requests", body)
            assert filed.status == 201, filed

        seen.clear()
        started = time.perf_counter()
        reply = api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers())
        run_seconds = time.perf_counter() - started
        assert reply.status == 200, reply
        run_calls = dict(seen)

        seen.clear()
        summary = next(d for d in api.draws() if d["draw_id"] == committed["draw_id"])
        record = api.draw_record(summary)
        read_calls = dict(seen)
        replays = (lottery.seed_commitment(record["seed"]) == committed["seed_hash"]
                   and [list(p) for p in lottery.allocate(record["entrants"], record["slots"], record["seed"])] == record["allocation"])

    print(f"draw of {made} free slots and {args.entrants} entrants: {reply.body}")
    print(f"| part | items | JSON bytes | chunks (pages) of <= {storage.RECORD_CHUNK_BYTES} bytes |")
    print("|---|---|---|---|")
    for part in storage.RECORD_PARTS:
        print(f"| {part} | {len(record[part])} | {len(json.dumps(record[part]))} | {summary['record_pages'][part]} |")
    print(f"DynamoDB calls of the run: {run_calls}")
    print(f"DynamoDB calls to read the summary and the whole record: {read_calls}")
    print(f"replays: {replays}; run took {run_seconds:.1f} s on moto in process")


if __name__ == "__main__":
    main()
