"""Measures what each operation costs in DynamoDB: the items it writes, their sizes, the units.

Runs the API in process (Chalice test client on moto's in-memory DynamoDB, as the tests do),
performs each operation once as an applicant would, and captures at botocore every DynamoDB call
it makes. Each item of a TransactWriteItems is read just before and just after the call and sized
with DynamoDB's published rules: attribute names plus values; strings in UTF-8 bytes; numbers
about 1 byte per 2 significant digits plus 1; maps and lists 3 bytes plus 1 per element; index
entries their projected attributes plus 100 bytes. The transactions are the ones the code sends,
not a list kept here, so an item added to one (an audit entry, a signal) is counted without
editing this file. Nothing is sent anywhere.

    python bench/item_sizes.py

Prices are an assumption (see docs/capacity.md): eu-west-3 on-demand, standard table class.
"""
import functools
import math
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.in_process import use_in_process_engine  # noqa: E402

use_in_process_engine()

# ASSUMED on-demand prices, USD per million request units, eu-west-3 (Paris), standard table
# class, after the November 2024 halving of on-demand prices. Not verified here: check
# https://aws.amazon.com/dynamodb/pricing/on-demand/ before relying on them.
PRICE_PER_MILLION_WRU = 0.7288
PRICE_PER_MILLION_RRU = 0.1458

SITE, FCFS, DRAW = "herault", "renewal", "student"
CLIENT_IP = "2a01:cb00:1234:5600:abcd:ef01:2345:6789"
GSI_OVERHEAD = 100  # bytes DynamoDB adds to each index entry


def applicant(n):
    return {
        "document": {"type": "agdref", "number": f"{n:010d}"},
        "birth_date": "1990-01-02",
        "family_name": "Nguyen-Hernández",
        "given_names": "Maria Fernanda",
        "email": "maria.fernanda.nguyen@example.org",
        "phone": "+33612345678",
    }


# --- DynamoDB's size and billing rules --------------------------------------------------------

def number_size(text):
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value):
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(number_size(s) for s in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    raise ValueError(kind)


def item_size(raw):
    """Bytes of an item as DynamoDB sends it (attribute names plus values); 0 for no item."""
    return sum(len(name.encode()) + value_size(value) for name, value in (raw or {}).items())


def wcu(size, transactional=False):
    """Write units for one item: 1 per started KB, doubled inside a transaction."""
    return math.ceil(max(size, 1) / 1024) * (2 if transactional else 1)


def rcu(total_size, consistent=False):
    """Read units for one GetItem or one Query page: per started 4 KB; eventually consistent
    reads cost half."""
    units = math.ceil(max(total_size, 1) / 4096)
    return units if consistent else units / 2


# --- capture: every DynamoDB call the code makes, with the items before and after -------------

class Recorder:
    """Wraps botocore's BaseClient._make_api_call (as the `calls` fixture of tests/conftest.py
    does): during `measure`, each DynamoDB call is kept with its request and response, and each
    item of a TransactWriteItems with the stored item just before and just after it (read with
    the unwrapped call, so these reads are not counted)."""

    def __init__(self):
        import botocore.client

        self.calls, self.on, self.tables = [], False, {}
        original = botocore.client.BaseClient._make_api_call
        recorder = self

        def recording(client, operation, params):
            if not recorder.on or client.meta.service_model.service_name != "dynamodb":
                return original(client, operation, params)
            if operation != "TransactWriteItems":
                response = original(client, operation, params)
                recorder.calls.append({"operation": operation, "params": params, "response": response})
                return response
            get = functools.partial(original, client)
            entries = [recorder._entry(get, item) for item in params["TransactItems"]]
            call = {"operation": operation, "params": params, "entries": entries, "failed": False}
            recorder.calls.append(call)
            try:
                response = original(client, operation, params)
            except Exception:
                call["failed"] = True
                raise
            for entry in entries:
                entry["after"] = recorder._get(get, entry["table"], entry["key"])
            return response

        botocore.client.BaseClient._make_api_call = recording

    def _table(self, get, name):
        if name not in self.tables:
            self.tables[name] = get("DescribeTable", {"TableName": name})["Table"]
        return self.tables[name]

    def _get(self, get, table, key):
        return get("GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get("Item")

    def _entry(self, get, item):
        (kind, body), = item.items()
        table = self._table(get, body["TableName"])
        names = [k["AttributeName"] for k in table["KeySchema"]]
        key = body["Key"] if "Key" in body else {n: body["Item"][n] for n in names}
        return {"kind": kind, "table": body["TableName"], "key": key, "put": body.get("Item"),
                "before": self._get(get, body["TableName"], key), "after": None}

    def measure(self, action):
        self.calls, self.on = [], True
        try:
            action()
        finally:
            self.on = False
        return self.calls


def _short(table):
    return table.split("-")[-1]


def label(table, key_schema, key):
    """What an item is, for the printout: its table and, where its key says it, its kind."""
    values = {k["KeyType"]: next(iter(key[k["AttributeName"]].values())) for k in key_schema}
    hash_key, range_key = values["HASH"], values.get("RANGE")
    name = _short(table)
    if name == "audit":
        return f"audit: signal {range_key.split('#')[0]}" if hash_key.startswith("signals#") else "audit: entry"
    if range_key is not None:
        return f"{name} ({range_key.split('#')[0]})"
    return f"{name} ({hash_key.split('#')[0]})" if "#" in hash_key else name


def _index_entry(index, table, item):
    """The item as the index stores it, or None if the item lacks the index's keys."""
    if not item or any(k["AttributeName"] not in item for k in index["KeySchema"]):
        return None
    projection = index["Projection"]
    if projection["ProjectionType"] == "ALL":
        return item
    names = {k["AttributeName"] for k in index["KeySchema"] + table["KeySchema"]}
    names |= set(projection.get("NonKeyAttributes", ()))
    return {n: v for n, v in item.items() if n in names}


def index_writes(table, before, after):
    """{index: write units} a base-table write causes: a new or removed entry is one write, a
    changed entry one, a changed index key two (delete and put); 1 unit per started KB each."""
    out = {}
    for index in table.get("GlobalSecondaryIndexes", ()):
        old, new = _index_entry(index, table, before), _index_entry(index, table, after)
        if old == new:
            continue
        keys = [k["AttributeName"] for k in index["KeySchema"]]
        sizes = [item_size(e) + GSI_OVERHEAD for e in (old, new) if e is not None]
        moved = old is not None and new is not None and any(old[k] != new[k] for k in keys)
        out[index["IndexName"]] = sum(wcu(s) for s in sizes) if moved else wcu(max(sizes))
    return out


def written(recorder, call):
    """One row per item of a TransactWriteItems: (kind, what, bytes before, bytes after or None,
    WRU, {index: WRU}). An update is billed on the larger of before and after. A cancelled
    transaction is billed for each item as if written (DynamoDB bills failed writes), without
    index writes: an upper bound."""
    for entry in call["entries"]:
        table = recorder.tables[entry["table"]]
        what = label(entry["table"], table["KeySchema"], entry["key"])
        before = item_size(entry["before"])
        if call["failed"] or entry["kind"] == "ConditionCheck":
            yield entry["kind"], what, before, None, wcu(max(before, item_size(entry["put"])), True), {}
        else:
            after = item_size(entry["after"])
            indexes = index_writes(table, entry["before"], entry["after"])
            yield entry["kind"], what, before, after, wcu(max(before, after), True) + sum(indexes.values()), indexes


def cost(recorder, calls):
    """(rows of items written, RRU, WRU, {operation: count}) of one operation's calls. A Query is
    priced on the items it returns (DynamoDB counts those a filter drops too)."""
    rows, rru, counts = [], 0.0, {}
    for call in calls:
        operation, response = call["operation"], call.get("response") or {}
        counts[operation] = counts.get(operation, 0) + 1
        consistent = bool(call["params"].get("ConsistentRead"))
        if operation == "GetItem":
            rru += rcu(item_size(response.get("Item")), consistent)
        elif operation == "Query":
            rru += rcu(sum(item_size(i) for i in response.get("Items", ())), consistent)
        elif operation == "TransactWriteItems":
            rows += written(recorder, call)
        else:
            raise ValueError(f"not priced here: {operation}")
    return rows, rru, sum(row[4] for row in rows), counts


# --- the operations, through the API as applicants use it -------------------------------------

def run_operations(recorder, client):
    """Each operation once, in process, after a warm-up that fills the per-process catalog cache
    (as any warm Lambda has it). Returns {name: calls}."""
    from tests.support import Api

    api = Api(client)
    api.create_site(SITE, procedures=(FCFS, DRAW))
    api.set_policy(SITE, DRAW, allocation="draw")
    api.schedule(SITE, FCFS, slot_minutes=15, counters=2)  # 24 slots
    slots = api.slots(SITE, FCFS, limit=20)
    people = iter(range(1, 1000))

    def expect(status, reply):
        assert reply.status == status, reply  # a refusal would measure another transaction
        return reply.body

    def hold(slot, status=201):
        return expect(status, api.hold(slot["slot_id"], applicant(next(people)), ip=CLIENT_IP))

    def request():
        body = {"site_id": SITE, "procedure_id": DRAW, "applicant": applicant(next(people)),
                "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
        expect(201, api.call("POST", "/requests", body, {"X-Forwarded-For": CLIENT_IP}))

    expect(201, api.confirm(hold(slots[0])))  # warm-up
    request()  # warm-up: the draw procedure's policy
    measured, held, booked = {}, {}, {}
    measured["search (1 Query page of 20 slots)"] = recorder.measure(lambda: api.slots(SITE, FCFS, limit=20))
    measured["hold"] = recorder.measure(lambda: held.update(hold(slots[1])))
    measured["confirm"] = recorder.measure(lambda: booked.update(expect(201, api.confirm(held))))
    measured["cancel"] = recorder.measure(lambda: expect(204, api.cancel(booked)))
    other = hold(slots[2])
    measured["release"] = recorder.measure(lambda: expect(204, api.release(other)))
    hold(slots[3])
    measured["failed hold (upper bound)"] = recorder.measure(lambda: hold(slots[3], 409))  # the slot was just taken
    measured["draw request"] = recorder.measure(request)
    return measured


def main():
    import tempfile

    from chalice.test import Client
    from moto import mock_aws

    from devlocal import serial_moto
    from devlocal.api_server import patch_chalice_local

    serial_moto.apply()
    patch_chalice_local()  # X-Forwarded-For becomes the client IP, as in the tests
    recorder = Recorder()
    with mock_aws(), tempfile.TemporaryDirectory() as project:
        from chalicelib import storage

        storage.ensure_tables()
        import app as application

        with Client(application.app, project_dir=project) as client:
            measured = run_operations(recorder, client)
        report(recorder, measured)


def report(recorder, measured):
    print("Items written per operation, as the code sends them (TransactWriteItems captured at botocore)")
    print("  bytes in DynamoDB accounting, before -> after; WRU: 2 per started KB per transaction item,")
    print("  the larger of before and after, plus 1 per started KB per index entry written")
    totals = {}
    for name, calls in measured.items():
        rows, rru, wru, counts = cost(recorder, calls)
        totals[name] = (rru, wru, counts, len(rows))
        if not rows:
            continue
        print(f"  {name}: {len(rows)} items")
        for kind, what, before, after, units, indexes in rows:
            sizes = f"{before:4d} -> {after:4d}" if after is not None else f"{before:4d}        "
            note = ", ".join(f"{index} {units}" for index, units in indexes.items())
            print(f"    {kind:14s} {what:24s} {sizes}  WRU {units:2d}" + (f"  (index {note})" if note else ""))

    print()
    print("Capacity per operation (on-demand request units; index writes included)")
    for name, (rru, wru, counts, items) in totals.items():
        calls = ", ".join(f"{op} {n}" for op, n in counts.items())
        print(f"  {name:36s} {calls:34s} items {items:2d}  RRU {rru:4.1f}  WRU {wru:3d}")

    # 10,000 bookings: each applicant searches 3 pages, holds, confirms; 10% cancel later.
    search, hold, confirm, cancel = (totals[k] for k in ("search (1 Query page of 20 slots)", "hold", "confirm", "cancel"))
    n = 10_000
    rru = n * (3 * search[0] + hold[0] + confirm[0]) + n // 10 * cancel[0]
    wru = n * (hold[1] + confirm[1]) + n // 10 * cancel[1]
    dollars = rru / 1e6 * PRICE_PER_MILLION_RRU + wru / 1e6 * PRICE_PER_MILLION_WRU
    print()
    print("10,000 bookings (3 search pages + hold + confirm each, 10% cancelled later)")
    print(f"  read request units  {rru:10,.0f}")
    print(f"  write request units {wru:10,.0f}")
    print(f"  DynamoDB on-demand cost at assumed eu-west-3 prices "
          f"(${PRICE_PER_MILLION_RRU}/M RRU, ${PRICE_PER_MILLION_WRU}/M WRU): ${dollars:.2f}")


if __name__ == "__main__":
    main()
