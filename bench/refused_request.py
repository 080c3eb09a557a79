"""What a refused standby request costs the database: with 4,800 slots in its range, holdable ones
among them, an anonymous `POST /requests` under `auto` is refused (409 slots_available). Prints
the DynamoDB calls, the items the Queries evaluated (ScannedCount: what DynamoDB reads and bills,
before its filter) and the bytes they returned, for a refusal where the first slots are holdable
and one where only the last day still has a holdable slot (the worst case of the early stop).

Runs the API in process (Chalice test client on moto's in-memory DynamoDB, as the tests do).

    python bench/refused_request.py
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.in_process import use_in_process_engine  # noqa: E402

use_in_process_engine()

SITE, PROCEDURE = "herault", "renewal"
DAYS, COUNTERS = 20, 12  # 20 days x 20 ten-minute openings x 12 counters = 4,800 slots


class Reads:
    """Query calls, items evaluated and bytes returned, counted at botocore."""

    def __init__(self):
        import json

        import botocore.client

        self.calls, self.scanned, self.bytes = {}, 0, 0
        original = botocore.client.BaseClient._make_api_call

        def counting(client, operation, params):
            response = original(client, operation, params)
            if client.meta.service_model.service_name == "dynamodb":
                self.calls[operation] = self.calls.get(operation, 0) + 1
                self.scanned += response.get("ScannedCount", 0)
                self.bytes += len(json.dumps(response.get("Items", []), default=str))
            return response

        botocore.client.BaseClient._make_api_call = counting

    def clear(self):
        self.calls, self.scanned, self.bytes = {}, 0, 0


def main():
    import tempfile
    from datetime import date, timedelta

    from chalice.test import Client
    from moto import mock_aws

    from devlocal import serial_moto

    serial_moto.apply()  # every DynamoDB action under one lock, as the tests run them

    from chalicelib import storage
    from chalicelib.platform import keys
    from chalicelib.storage.models import Slot
    from chalicelib.usecases import site_catalog
    from tests.support import Api, applicant

    reads = Reads()
    with mock_aws(), tempfile.TemporaryDirectory() as project:
        site_catalog.forget_cached()
        keys.forget()
        storage.connection.reset()
        storage.ensure_tables()
        import app as application

        with Client(application.app, project_dir=project) as client:
            api = Api(client)
            api.create_site(SITE, procedures=(PROCEDURE,))
            api.set_policy(SITE, PROCEDURE, allocation="auto", max_holds_per_ip_per_hour=1000)
            created = api.schedule(SITE, PROCEDURE, days=DAYS, slot_minutes=10, counters=COUNTERS, closes="12:20", start_in_days=1)
            body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(1), "from": date.today().isoformat(),
                    "to": (date.today() + timedelta(days=DAYS + 2)).isoformat()}
            print(f"{created} slots; a refused anonymous POST /requests reads:")
            print(f"  {'case':<34} {'answer':<22} {'calls':<44} {'items read':>10} {'bytes':>9}")
            for case in ("first slots holdable", "only the last day holdable"):
                if case.startswith("only"):  # every slot but the last day's hidden (quarantined), still in the index
                    last_day = (date.today() + timedelta(days=DAYS)).isoformat()
                    with Slot.batch_write() as batch:
                        for slot in Slot.scan(Slot.site_id == SITE):
                            if not slot.starts_at.startswith(last_day):
                                slot.available_from = slot.available_from + 30 * 86400
                                batch.save(slot)
                reads.clear()
                reply = api.call("POST", "/requests", {**body, "applicant": applicant(2 if case.startswith("only") else 1)})
                answer = f"{reply.status} {reply.code}"
                print(f"  {case:<34} {answer:<22} {str(reads.calls):<44} {reads.scanned:>10} {reads.bytes:>9}")


if __name__ == "__main__":
    main()
