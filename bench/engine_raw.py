"""Raw throughput of the local engine, without the API: conditional updates and two-item
transactions from T threads, on a slots table of a given size.

    python bench/engine_raw.py --endpoint http://127.0.0.1:8001   # an engine already running
    python bench/engine_raw.py --table-items 2000                 # a private engine in this process
    FAIRSLOT_MOTO_TABLE_COPY=1 python bench/engine_raw.py ...     # moto's own whole-table rollback copy
Prints one JSON line.
"""
import argparse
import json
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def client(endpoint, threads):
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-3", aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(max_pool_connections=threads, retries={"max_attempts": 1}))


def measure(endpoint, table_items=2000, threads=16, seconds=5.0):
    ddb = client(endpoint, threads)
    slots, holds = f"raw-slots-{uuid.uuid4().hex[:6]}", f"raw-holds-{uuid.uuid4().hex[:6]}"
    for name in (slots, holds):
        ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    for i in range(table_items):
        ddb.put_item(TableName=slots, Item={"pk": {"S": f"s{i}"}, "state": {"S": "open"}, "v": {"N": "0"},
                                             "site": {"S": "x" * 40}, "starts_at": {"S": "2026-12-01T08:00:00Z"}})

    def run(kind):
        count, stop = [0] * threads, time.monotonic() + seconds

        def worker(t):
            c = client(endpoint, 1)
            i = 0
            while time.monotonic() < stop:
                key = {"pk": {"S": f"s{(t * 997 + i) % table_items}"}}
                update = {"TableName": slots, "Key": key, "UpdateExpression": "SET v = v + :one",
                          "ConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "state"},
                          "ExpressionAttributeValues": {":one": {"N": "1"}, ":open": {"S": "open"}}}
                if kind == "update":
                    c.update_item(**update)
                else:
                    c.transact_write_items(TransactItems=[
                        {"Update": update},
                        {"Put": {"TableName": holds, "Item": {"pk": {"S": f"h{t}-{i}"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
                    ])
                count[t] += 1
                i += 1

        workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        started = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return sum(count) / (time.monotonic() - started)

    result = {"table_items": table_items, "threads": threads, "conditional_updates_per_s": round(run("update"), 1),
              "two_item_transactions_per_s": round(run("transaction"), 1),
              "table_copy": os.environ.get("FAIRSLOT_MOTO_TABLE_COPY") == "1"}
    for name in (slots, holds):
        ddb.delete_table(TableName=name)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint")
    parser.add_argument("--table-items", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    engine = None
    if not args.endpoint:
        from devlocal.engine import Engine

        engine = Engine(port=0).start()
        args.endpoint = engine.endpoint
    print(json.dumps(measure(args.endpoint, args.table_items, args.threads, args.seconds)), flush=True)
    if engine:
        engine.stop()


if __name__ == "__main__":
    main()
