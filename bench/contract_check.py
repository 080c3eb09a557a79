"""Cost of checking one answer against /openapi.json (tests/contract_check.py), as every in-process API test pays it.

Prints, per answer shape, the first check (its closed schema compiled and cached; the very first
also builds the document) and the median of 200 later ones, in microseconds.

    .venv/bin/python bench/contract_check.py
"""
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("STAFF_JWT_SECRET", "bench-staff-secret-at-least-32-bytes-long")

from tests import contract_check  # noqa: E402
from tests.support import Reply  # noqa: E402

SLOT = {"slot_id": "slot_2c549db69bdf9b67278b7046", "site_id": "prefecture-herault", "procedure_id": "renewal",
        "starts_at": "2026-03-02T08:00:00Z", "ends_at": "2026-03-02T08:15:00Z"}
TOKEN = "cWLPgW44_lxe10mXo3K6q9gZeCm4gIKn1q9wMSiFqh0"
CASES = {
    "GET /health 200": ("GET", "/health", Reply(200, {"status": "ok", "time": "2026-03-02T08:00:00Z"}, {})),
    "POST /holds 201": ("POST", "/holds", Reply(201, {"hold_id": "hold_f1f290d502c1bb7422f2682d", "hold_token": TOKEN,
                                                      "expires_at": "2026-03-02T08:00:00Z", "slot": SLOT}, {})),
    "GET /sites/{site_id}/slots 200 (100 slots)": ("GET", "/sites/prefecture-herault/slots?procedure=renewal",
                                                   Reply(200, {"slots": [SLOT] * 100, "next_cursor": None}, {})),
    "POST /holds 409 (error envelope)": ("POST", "/holds", Reply(409, {"error": {"code": "slot_unavailable", "message": "m",
                                                                                  "details": {}}}, {})),
}


def main() -> None:
    print(f"{'answer':45} {'first (us)':>11} {'median (us)':>12}")
    for name, (method, path, reply) in CASES.items():
        start = time.perf_counter()
        contract_check.check_reply(method, path, reply)
        first = (time.perf_counter() - start) * 1e6
        runs = []
        for _ in range(200):
            start = time.perf_counter()
            contract_check.check_reply(method, path, reply)
            runs.append((time.perf_counter() - start) * 1e6)
        print(f"{name:45} {first:11.0f} {statistics.median(runs):12.0f}")


if __name__ == "__main__":
    main()
