"""Measures GET /stats/{site} at 400 and 4,000 slots: DynamoDB calls and items read per request,
and the time in process, next to what reading every slot and booking of the range (the way it
was computed before the counters) costs on the same data. The site indexes that reading used are
gone (nothing read them once the counters came), so it is measured as the Scans it would take now.

Runs the API in process (Chalice test client on moto's in-memory DynamoDB, as the tests do), so
times are moto's, not DynamoDB's: compare them with each other, not with production.

    python bench/stats.py
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.in_process import use_in_process_engine  # noqa: E402

use_in_process_engine()

SITE, PROCEDURE = "herault", "renewal"
ROUNDS = 7


class Calls:
    """DynamoDB operations and items returned, counted at botocore."""

    def __init__(self):
        import botocore.client

        self.ops, self.items = {}, 0
        original = botocore.client.BaseClient._make_api_call

        def counting(client, operation, params):
            response = original(client, operation, params)
            if client.meta.service_model.service_name == "dynamodb":
                self.ops[operation] = self.ops.get(operation, 0) + 1
                self.items += len(response.get("Items", ()))
            return response

        botocore.client.BaseClient._make_api_call = counting

    def clear(self):
        self.ops, self.items = {}, 0


def measure(calls, action):
    times = []
    for _ in range(ROUNDS):
        calls.clear()
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), dict(calls.ops), calls.items


def one_size(slots_wanted, calls):
    import tempfile
    from datetime import date, timedelta

    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import storage
    from chalicelib.platform import keys
    from chalicelib.storage.models import Booking, Slot
    from chalicelib.usecases import site_catalog
    from tests.support import Api, applicant

    with mock_aws(), tempfile.TemporaryDirectory() as project:
        site_catalog.forget_cached()
        keys.forget()
        storage.connection.reset()
        storage.ensure_tables()
        import app as application

        with Client(application.app, project_dir=project) as client:
            api = Api(client)
            api.create_site(SITE, procedures=(PROCEDURE,))
            days = 20
            counters = max(1, slots_wanted // (days * 20))  # 20 ten-minute openings a day (9:00-12:20)
            api.schedule(SITE, PROCEDURE, days=days, slot_minutes=10, counters=counters, closes="12:20")
            found = api.slots(SITE, PROCEDURE, limit=100)
            for n, slot in enumerate(found[:40]):
                api.book(slot["slot_id"], applicant(n), ip=f"198.51.100.{n}")
            first, last = date.today(), date.today() + timedelta(days=days + 3)
            path = f"/stats/{SITE}?from={first.isoformat()}&to={last.isoformat()}"
            reply = api.call("GET", path)
            assert reply.status == 200, reply
            published = reply.body["procedures"][PROCEDURE]["published"]
            now_ms, now_ops, now_items = measure(calls, lambda: api.call("GET", path))

            def every_slot_and_booking():
                from_key, to_key = f"{first.isoformat()}T00:00:00Z", f"{last.isoformat()}T00:00:00Z"
                list(Slot.scan((Slot.site_id == SITE) & Slot.starts_at.between(from_key, to_key)))
                list(Booking.scan((Booking.site_id == SITE) & Booking.starts_at.between(from_key, to_key)))

            old_ms, old_ops, old_items = measure(calls, every_slot_and_booking)
    return published, (now_ms, now_ops, now_items), (old_ms, old_ops, old_items)


def main():
    from devlocal import serial_moto
    from devlocal.api_server import patch_chalice_local

    serial_moto.apply()
    patch_chalice_local()  # X-Forwarded-For becomes the client IP, as in the tests
    calls = Calls()
    print(f"GET /stats/{SITE} over the whole schedule, median of {ROUNDS} (in process, moto)")
    print(f"  {'slots':>6}  {'counters: calls':<28} {'items':>5} {'ms':>7}   {'scanning every slot and booking: calls':<40} {'items':>5} {'ms':>7}")
    for wanted in (400, 4000):
        published, (ms, ops, items), (old_ms, old_ops, old_items) = one_size(wanted, calls)
        print(f"  {published:>6}  {str(ops):<28} {items:>5} {ms:>7.1f}   {str(old_ops):<40} {old_items:>5} {old_ms:>7.1f}")


if __name__ == "__main__":
    main()
