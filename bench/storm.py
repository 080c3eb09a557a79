"""Release storm: N concurrent clients over HTTP against the local stack compete for M slots.

Prints holds/s, p50/p99 hold latency, winners, double bookings (must be 0), the API process's
RSS across repeated storms, the raw throughput of the same engine (conditional updates and
two-item transactions) and the ratio API/raw, and the DynamoDB calls per operation.

    .venv/bin/python bench/storm.py [--clients 200] [--slots 50] [--storms 3]
"""
import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
STAFF_SECRET = "bench-staff-secret-at-least-32-bytes-long"
_people = itertools.count(1)


def start_stack(**extra_env):
    """The local stack on free ports, for a benchmark: (process, API URL, engine URL, API pid)."""
    from tests.e2e.conftest import free_port

    api_port, engine_port = free_port(), free_port()
    prove_through_files()
    env = {**os.environ, "STAFF_JWT_SECRET": STAFF_SECRET, "TABLE_PREFIX": "fairslot-bench", "POWERTOOLS_LOG_LEVEL": "WARNING",
           **extra_env}
    proc = subprocess.Popen([sys.executable, "-m", "devlocal.stack", "--api-port", str(api_port), "--engine-port",
                             str(engine_port), "--no-seed", "--no-web"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=open(os.path.join(ROOT, ".bench-stack.log"), "w"), text=True)
    for line in proc.stdout:
        if line.strip() == "READY":
            break
    drain(proc.stdout, os.path.join(ROOT, ".bench-stack.out"))
    api_pid = int(subprocess.check_output(["pgrep", "-f", f"devlocal.api_server --port {api_port}"]).split()[0])
    return proc, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{engine_port}", api_pid


def prove_through_files():
    """R10: the stack's identity registry and outbox are temporary files the benchmark's clients
    share (tests/support.py registers each applicant and reads their codes); the limits on codes
    are lifted, as the benchmark's people all come from one machine."""
    import tempfile

    from tests import support

    place = tempfile.mkdtemp(prefix="fairslot-bench-proofs-")
    os.environ["IDENTITY_REGISTRY_FILE"] = os.path.join(place, "registry.jsonl")
    open(os.environ["IDENTITY_REGISTRY_FILE"], "a").close()
    os.environ["OUTBOX_DIR"] = support.HTTP_OUTBOX = os.path.join(place, "outbox")
    os.environ.setdefault("VERIFICATION_MAX_PER_IP_PER_HOUR", "1000000")
    os.environ.setdefault("VERIFICATION_MAX_PER_IDENTITY_PER_HOUR", "1000000")


def drain(stream, path):
    """Keep reading the stack's stdout (its JSON logs) into a file: a full pipe would block
    every thread of the API that logs."""
    def copy():
        with open(path, "w") as out:
            for line in stream:
                out.write(line)

    threading.Thread(target=copy, daemon=True).start()


def rss_mb(pid):
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class Tally:
    """What the clients of one storm saw: hold latencies, (slot, confirm status), errors."""

    def __init__(self):
        self.latencies, self.bookings, self.errors, self.lock = [], [], [], threading.Lock()


def storm(base, site, clients, slots_wanted):
    """One storm on a fresh procedure: every client searches and holds until it wins or nothing is left."""
    from tests.support import Api

    admin = Api(base, staff_secret=STAFF_SECRET)
    procedure = f"p{next(_people)}"
    admin.create_site(site_id=site, procedures=(procedure,))
    admin.set_policy(site_id=site, procedure=procedure, max_holds_per_ip_per_hour=1_000_000)
    per_day = 12  # 09:00-12:00 by 15 minutes
    created = admin.schedule(site_id=site, procedure=procedure, days=-(-slots_wanted // per_day), slot_minutes=15)
    tally = Tally()
    barrier = threading.Barrier(clients)
    threads = [threading.Thread(target=storm_client, args=(base, site, procedure, i, barrier, tally)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies = tally.latencies
    booked_slots = [slot for slot, status in tally.bookings if status == 201]
    return {
        "slots": created,
        "hold_attempts": len(latencies),
        "holds_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 1 else latencies[0] * 1000,
        "winners": len(booked_slots),
        "double_bookings": len(booked_slots) - len(set(booked_slots)),
        "errors": tally.errors,
        "elapsed_s": elapsed,
    }


def storm_client(base, site, procedure, i, barrier, tally):
    """Search once, try the listed slots in turn (each client starting at its own place),
    search again only when the list is used up; stop with a booking or when nothing is left."""
    from tests.support import Api, applicant

    api = Api(base, staff_secret=STAFF_SECRET)
    me = applicant(next(_people))
    ip = f"10.{i // 250}.{i % 250}.1"
    barrier.wait()
    try:
        while True:
            free = api.slots(site_id=site, procedure=procedure, limit=20)
            if not free:
                return
            for k in range(len(free)):
                target = free[(i + k) % len(free)]["slot_id"]
                started = time.perf_counter()
                reply = api.hold(target, me, ip=ip)
                with tally.lock:
                    tally.latencies.append(time.perf_counter() - started)
                if reply.status != 409:
                    return book_or_count(api, target, reply, tally)
    except Exception as exc:  # a client that fails is counted, not fatal to the benchmark
        with tally.lock:
            tally.errors.append(type(exc).__name__)


def book_or_count(api, target, reply, tally):
    """A hold the storm did not refuse for being taken: confirmed if granted, else an error."""
    if reply.status == 201:
        booking = api.confirm(reply.body)
        with tally.lock:
            tally.bookings.append((target, booking.status))
        return
    with tally.lock:
        tally.errors.append(reply.status)
        if reply.status >= 500 and os.environ.get("STORM_DEBUG"):
            print("server error", reply.status, reply.body, flush=True)


def calls_per_operation():
    """DynamoDB calls per operation (warm process), counted at botocore, in process on moto."""
    code = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
import tests.conftest  # the test environment: serialized moto, local settings
from collections import Counter
import botocore.client
from moto import mock_aws
from chalice.test import Client
import tempfile
seen = Counter()
orig = botocore.client.BaseClient._make_api_call
def counting(self, op, params):
    if self.meta.service_model.service_name == "dynamodb":
        seen[op] += 1
    return orig(self, op, params)
botocore.client.BaseClient._make_api_call = counting
with mock_aws():
    from chalicelib import storage
    storage.ensure_tables()
    import app
    from tests.support import Api, applicant
    with Client(app.app, project_dir=tempfile.mkdtemp()) as c:
        api = Api(c)
        slots = api.ready_site()
        for n in (2, 3):
            api.prove(applicant(n))  # R10: identity tokens first; their calls are not the hold's
        api.confirm(api.hold(slots[0]["slot_id"], applicant(1)).body)
        out = {}
        def m(name, f):
            seen.clear(); r = f(); out[name] = dict(seen); return r
        m("search", lambda: api.slots())
        h = m("hold", lambda: api.hold(slots[1]["slot_id"], applicant(2)).body)
        b = m("confirm", lambda: api.confirm(h).body)
        m("confirm again", lambda: api.confirm(h))
        m("cancel", lambda: api.cancel(b))
        h2 = api.hold(slots[2]["slot_id"], applicant(3)).body
        m("release", lambda: api.release(h2))
print(json.dumps(out))
"""
    out = subprocess.check_output([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR"})
    return json.loads(out.decode().strip().splitlines()[-1])


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--storms", type=int, default=3)
    args = parser.parse_args()

    proc, base, engine, api_pid = start_stack()
    try:
        print(f"storm: {args.clients} clients over HTTP, {args.slots} slots per storm, {args.storms} storms")
        print(f"  API process RSS before: {rss_mb(api_pid)[0]:.1f} MB")
        results = []
        for n in range(args.storms):
            r = storm(base, f"bench-{n}", args.clients, args.slots)
            results.append(r)
            now, peak = rss_mb(api_pid)
            print(f"  storm {n + 1}: {r['hold_attempts']} hold attempts in {r['elapsed_s']:.1f} s = {r['holds_per_s']:.1f} holds/s, "
                  f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, winners {r['winners']}/{r['slots']} slots, "
                  f"double bookings {r['double_bookings']}, client errors {dict(Counter(r['errors']))}; API RSS {now:.1f} MB (peak {peak:.1f} MB)")
        raw = json.loads(subprocess.check_output([sys.executable, "bench/engine_raw.py", "--endpoint", engine,
                                                  "--seconds", "4"], cwd=ROOT).decode().strip().splitlines()[-1])
        engine_rss = rss_mb(proc.pid)[0]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    best = max(r["holds_per_s"] for r in results)
    print(f"raw engine (same engine, 16 threads, {raw['table_items']}-item table): "
          f"{raw['conditional_updates_per_s']:.0f} conditional updates/s, {raw['two_item_transactions_per_s']:.0f} two-item transactions/s")
    print(f"ratio API holds/s / raw two-item transactions/s: {best / raw['two_item_transactions_per_s']:.2f}")
    print(f"engine process RSS after the storms: {engine_rss:.1f} MB")
    copy = json.loads(subprocess.check_output([sys.executable, "bench/engine_raw.py", "--seconds", "3"], cwd=ROOT,
                                              env={**os.environ, "FAIRSLOT_MOTO_TABLE_COPY": "1"}).decode().strip().splitlines()[-1])
    print(f"moto's own whole-table copy per transaction (unpatched rollback, 2000-item table): "
          f"{copy['two_item_transactions_per_s']:.0f} two-item transactions/s "
          f"vs {raw['two_item_transactions_per_s']:.0f} with item-level rollback")
    print("DynamoDB calls per operation (warm process):")
    for op, calls in calls_per_operation().items():
        print(f"  {op:14s} {calls}")
    if any(r["double_bookings"] for r in results):
        sys.exit("DOUBLE BOOKING")


if __name__ == "__main__":
    main()
