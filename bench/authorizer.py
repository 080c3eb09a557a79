"""What the partner authorizer (x-api-key -> DynamoDB, TTL 0) adds to a request.

1. Over HTTP against the local stack: the same search with and without the authorizer
   (GET /partner/sites/{site}/slots vs GET /sites/{site}/slots: one Query each), and
   GET /partner/bookings vs GET /health, with PARTNER_KEY_CACHE_SECONDS=0 (every request looks
   the key up) and =300 (an in-process cache of key lookups). `chalice local` calls the
   authorizer on every request and ignores ttl_seconds (read chalice/local.py:
   LocalGatewayAuthorizer.authorize has no cache), so API Gateway's own authorizer cache cannot
   be measured locally; in AWS the partner authorizer's TTL is 0 on purpose (revocation at once).
2. In process: the authorizer function itself (app.partner_key, the Lambda API Gateway would
   invoke) against the local engine over HTTP, without and with the in-process key cache.

Usage: .venv/bin/python bench/authorizer.py [--requests 300]
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
STAFF_SECRET = "bench-staff-secret-at-least-32-bytes-long"


def start_stack(cache_seconds):
    from bench import storm

    proc, base, _engine, _pid = storm.start_stack(
        TABLE_PREFIX="fairslot-bench-auth", PARTNER_KEY_CACHE_SECONDS=str(cache_seconds),
        OUTBOX_DIR=os.path.join(ROOT, "var", "bench-outbox"))
    return proc, base


def timed(calls, n):
    """Each call n times, interleaved (a, b, c, a, b, c...) so that drift hits them alike."""
    for call in calls:
        call()  # warm: connection, catalog cache
    out = [[] for _ in calls]
    for _ in range(n):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            reply = call()
            out[i].append((time.perf_counter() - start) * 1000)
            assert reply.status == 200, reply
    return out


def fmt(samples):
    ordered = sorted(samples)
    return f"median {statistics.median(ordered):6.2f} ms  p90 {ordered[int(len(ordered) * 0.9)]:6.2f} ms"


def over_http(n):
    from tests.support import Api, applicant

    rows = {}
    for cache in (0, 300):
        proc, base = start_stack(cache)
        try:
            api = Api(base, staff_secret=STAFF_SECRET)
            api.create_site()
            api.schedule(days=2, slot_minutes=30)  # 12 slots: a search page is one small Query
            partner = api.create_partner(daily_quota=1000)
            api.partner_book(partner, api.partner_slots(partner)[0]["slot_id"], applicant(1))
            search = "/sites/test-site/slots?procedure=renewal&limit=20"
            key = api.partner_headers(partner)
            names = ["GET /health (no authorizer)", "GET /partner/bookings", "GET /sites/{site}/slots (no authorizer)",
                     "GET /partner/sites/{site}/slots"]
            samples = timed([lambda: api.call("GET", "/health"),  # noqa: B023 (timed() calls them before the loop moves on)
                             lambda: api.call("GET", "/partner/bookings", headers=key),  # noqa: B023
                             lambda: api.call("GET", search),  # noqa: B023
                             lambda: api.call("GET", "/partner" + search, headers=key)], n)  # noqa: B023
            rows[cache] = dict(zip(names, samples, strict=True))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"1. over HTTP, chalice local + local engine, {n} sequential requests each (keep-alive)")
    for cache, table in rows.items():
        print(f"   PARTNER_KEY_CACHE_SECONDS={cache}")
        for name, samples in table.items():
            print(f"     {name:42s} {fmt(samples)}")
        public = statistics.median(table["GET /sites/{site}/slots (no authorizer)"])
        partner = statistics.median(table["GET /partner/sites/{site}/slots"])
        print(f"     added by the authorizer (same search, median difference): {partner - public:+.2f} ms")


def in_process(n):
    from devlocal.engine import Engine
    from devlocal.stack import local_environment

    engine = Engine(port=0).start()
    os.environ.update(local_environment(engine.endpoint, STAFF_SECRET))
    os.environ["TABLE_PREFIX"] = "fairslot-bench-auth-inproc"
    from chalicelib import storage
    from chalicelib.platform import clock
    from chalicelib.usecases import partner_keys

    storage.ensure_tables()
    created = partner_keys.create("bench", 100, clock.now())
    import app as application

    event = {"type": "TOKEN", "authorizationToken": created["api_key"],
             "methodArn": "arn:aws:execute-api:eu-west-3:123456789012:abcdef/api/GET/partner/bookings"}

    def authorize():
        result = application.partner_key(event, None)
        assert result["context"]["partner_id"] == created["partner_id"]

    rows = {}
    for cache in (0, 300):
        os.environ["PARTNER_KEY_CACHE_SECONDS"] = str(cache)
        partner_keys.forget_cached()
        authorize()
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            authorize()
            samples.append((time.perf_counter() - start) * 1000)
        rows[cache] = samples
    engine.stop()
    print(f"2. in process: the authorizer function (app.partner_key), {n} calls, engine over loopback HTTP")
    for cache, samples in rows.items():
        label = "key looked up every call (TTL 0)" if cache == 0 else f"in-process key cache {cache} s"
        print(f"     {label:42s} {fmt(samples)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    over_http(args.requests)
    in_process(args.requests)


if __name__ == "__main__":
    main()
