"""The local engine (moto's DynamoDB, patched by devlocal.serial_moto) is serializable, does not
leak, and rolls back cancelled transactions item by item. Real threads over real HTTP."""
import sys
import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devlocal import serial_moto
from devlocal.engine import Engine

THREADS = 64
ROUNDS = 30


@pytest.fixture(scope="module")
def endpoint():
    # Switch threads as often as the interpreter can, so that unserialized actions interleave
    # (with moto's default 5 ms a race is rarer, yet real: a stock engine shows double winners).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    engine = Engine(port=0).start()
    yield engine.endpoint
    engine.stop()
    sys.setswitchinterval(interval)


def client(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-3",
                        config=Config(max_pool_connections=THREADS, retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def table(endpoint):
    ddb = client(endpoint)
    ddb.create_table(TableName="race", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return "race"


_clients = {}


def race(endpoint, attempt):
    """Run attempt(ddb, thread_number) in THREADS threads released together; return the winners."""
    if endpoint not in _clients:
        _clients[endpoint] = [client(endpoint) for _ in range(THREADS)]
    clients = _clients[endpoint]
    barrier = threading.Barrier(THREADS)
    winners = []

    def run(n):
        barrier.wait()
        try:
            attempt(clients[n], n)
            winners.append(n)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return winners


def test_racing_conditional_writes_have_exactly_one_winner(endpoint, table):
    for r in range(ROUNDS):
        def put(ddb, n):
            ddb.put_item(TableName=table, Item={"pk": {"S": f"put-{r}"}, "owner": {"N": str(n)}},  # noqa: B023 (race() joins its threads before the loop moves on)
                         ConditionExpression="attribute_not_exists(pk)")
        winners = race(endpoint, put)
        assert len(winners) == 1, f"round {r}: {len(winners)} winners"
        stored = client(endpoint).get_item(TableName=table, Key={"pk": {"S": f"put-{r}"}})["Item"]
        assert stored["owner"]["N"] == str(winners[0])


def test_racing_transactions_have_exactly_one_winner(endpoint, table):
    ddb = client(endpoint)
    for r in range(ROUNDS):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"slot-{r}"}, "state": {"S": "open"}})

        def hold(ddb, n):
            ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": table, "Key": {"pk": {"S": f"slot-{r}"}},  # noqa: B023 (race() joins its threads before the loop moves on)
                            "UpdateExpression": "SET #s = :held, holder = :n",
                            "ConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "state"},
                            "ExpressionAttributeValues": {":held": {"S": "held"}, ":open": {"S": "open"}, ":n": {"N": str(n)}}}},
                {"Put": {"TableName": table, "Item": {"pk": {"S": f"hold-{r}-{n}"}},  # noqa: B023 (race() joins its threads before the loop moves on)
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
        winners = race(endpoint, hold)
        assert len(winners) == 1, f"round {r}: {len(winners)} winners"
        stored = ddb.get_item(TableName=table, Key={"pk": {"S": f"slot-{r}"}})["Item"]
        assert stored["holder"]["N"] == str(winners[0])
        losers = [n for n in range(THREADS) if n not in winners]
        for n in losers[:5]:  # a cancelled transaction leaves none of its writes behind
            assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": f"hold-{r}-{n}"}})


def test_a_cancelled_transaction_is_rolled_back_item_by_item(endpoint, table):
    ddb = client(endpoint)
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name="eu-west-3")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    before = len(streams.get_records(ShardIterator=iterator)["Records"])
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "missing"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["v"]["N"] == "1"
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "new"}})
    assert len(streams.get_records(ShardIterator=iterator)["Records"]) == before  # no phantom stream records


def test_the_engine_keeps_no_reference_to_every_model_instance(endpoint, table):
    ddb = client(endpoint)
    for n in range(300):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"leak-{n}"}})
    assert serial_moto.tracked_instances() == 0
