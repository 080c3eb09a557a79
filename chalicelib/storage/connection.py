"""The one DynamoDB connection every storage call and transaction shares, and its one retry point."""
import functools
import inspect
import random
import threading
import time
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.attributes import Attribute
from pynamodb.connection import Connection
from pynamodb.connection.base import MetaTable
from pynamodb.indexes import Index

from chalicelib.platform import config
from chalicelib.storage.models import ALL_MODELS, Policy, SiteFigures

CONTENTION = {"TransactionConflict"}
# A cancelled transaction's reasons that say an item was not judged for lack of capacity
# (DynamoDB's CancellationReason codes, without the "Exception" of the error codes): trying again
# may succeed. Every other reason but "None" and "ConditionalCheckFailed" (ValidationError,
# ItemCollectionSizeLimitExceeded, one DynamoDB adds tomorrow) is a storage error: transaction.py.
BUSY_REASONS = {"ProvisionedThroughputExceeded", "ThrottlingError", "RequestLimitExceeded"}
UNAVAILABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ThrottlingError",
    "TransactionInProgressException",
    "TransactionConflictException",  # a single-item write on an item a transaction is changing
}
# (name, attribute) of the hash key, and of the range key or None.
KeyAttributes = tuple[tuple[str, Attribute], tuple[str, Attribute] | None]
_jitter = random.Random()
_shared = None
_lock = threading.Lock()


def transient(exc: Exception) -> bool:
    """Did DynamoDB refuse this call without applying it, so that trying again may succeed?
    Throttling, an internal error, or a transaction cancelled by another one in flight on the
    same item (TransactionConflict) with no condition of its own failed. Timeouts and
    connection errors are not: botocore already retried them, and their outcome is unknown."""
    if not isinstance(exc, ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code")
    if code in UNAVAILABLE:
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = {r.code for r in getattr(exc, "cancellation_reasons", None) or () if r is not None}
    return bool(reasons & (CONTENTION | BUSY_REASONS | UNAVAILABLE)) and "ConditionalCheckFailed" not in reasons


def pause(seconds: float) -> None:
    time.sleep(seconds)


class RetryingConnection(Connection):
    """PynamoDB's Connection whose public `dispatch` (every operation goes through it) is tried up
    to STORAGE_ATTEMPTS times while its failure is transient, with full jitter (a random pause up
    to 50 ms, 100 ms, 200 ms...) so that the callers who collided do not collide again. A
    transaction carries its own ClientRequestToken (transaction.py), so trying it again never
    applies it twice. (PynamoDB's connection module comes with the models anyway.)"""

    def dispatch(self, operation_name: str, operation_kwargs: dict[str, Any]) -> dict[str, Any]:
        attempts = config.current().storage_attempts
        for n in range(attempts):
            try:
                return super().dispatch(operation_name, dict(operation_kwargs))
            except ClientError as exc:
                if not transient(exc) or n + 1 >= attempts:
                    raise
                pause(_jitter.uniform(0, min(1.0, 0.05 * 2 ** n)))
        raise ValueError(f"STORAGE_ATTEMPTS must be at least 1, not {attempts}")


def connection() -> "RetryingConnection":
    """The one DynamoDB connection (and botocore client) every storage call and transaction uses.

    Created once under a lock, with its client: PynamoDB builds a botocore session per thread and
    a client per model, and threads racing to do so (chalice local serves each request on a
    thread) built dozens of clients, ~8 MB each; in Lambda one client instead of seven also means
    less work on the first request. No model does its own I/O: calls.py and cursors.py send each
    operation through this connection's public methods (get_item, query, put_item, update_item,
    batch_get_item; TransactWrite takes it too), so every one passes the retry point. It knows
    each table's keys and indexes from the models (_meta_tables), never from a DescribeTable call.
    tests/api/test_dynamodb_faults.py::test_one_botocore_client_serves_every_model checks it."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                settings = config.current()
                shared = RetryingConnection(
                    region=settings.region,
                    host=settings.dynamodb_endpoint,
                    connect_timeout_seconds=2,
                    read_timeout_seconds=settings.dynamodb_read_timeout_seconds,
                    max_retry_attempts=settings.dynamodb_max_retries,
                    max_pool_connections=50,
                )
                shared.client  # noqa: B018 -- build the client now, under the lock
                for table in _meta_tables():
                    shared.add_meta_table(table)
                _shared = shared
    return _shared


def key_attributes(owner: type | object) -> KeyAttributes:
    """(name, Attribute) of the hash key and of the range key (or None) of a model or an index,
    as declared: PynamoDB's public Attribute flags, read once per class."""
    return _declared_keys(owner if isinstance(owner, type) else type(owner))


@functools.cache
def _declared_keys(cls: type) -> KeyAttributes:
    declared = inspect.getmembers(cls, lambda value: isinstance(value, Attribute))
    hash_key = next((name, a) for name, a in declared if a.is_hash_key)
    return hash_key, next(((name, a) for name, a in declared if a.is_range_key), None)


def _schema(owner: type | object) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """A model's or an index's key schema and the definitions of its key attributes."""
    keys = [(attribute, kind) for kind, (_, attribute) in zip(("HASH", "RANGE"), filter(None, key_attributes(owner)), strict=False)]
    return ([{"AttributeName": a.attr_name, "KeyType": kind} for a, kind in keys],
            [{"AttributeName": a.attr_name, "AttributeType": a.attr_type} for a, _ in keys])


def _meta_tables() -> list[MetaTable]:
    """Each table as DescribeTable would describe its keys (PynamoDB's public MetaTable), from the
    models' declarations, so that the connection never asks DynamoDB: several models share a
    table (catalog, audit, draws), whose indexes are those of all of them."""
    tables: dict[str, dict] = {}
    for model in ALL_MODELS + (Policy, SiteFigures):
        key_schema, definitions = _schema(model)
        table = tables.setdefault(model.Meta.table_name, {
            "TableName": model.Meta.table_name, "KeySchema": key_schema, "AttributeDefinitions": [],
            "GlobalSecondaryIndexes": []})
        if table["KeySchema"] != key_schema:
            raise ValueError(f"{model.__name__} does not have the keys of {model.Meta.table_name}")
        for _, index in inspect.getmembers(model, lambda value: isinstance(value, Index)):
            index_keys, index_definitions = _schema(index)
            table["GlobalSecondaryIndexes"].append({"IndexName": index.Meta.index_name, "KeySchema": index_keys})
            definitions += index_definitions
        table["AttributeDefinitions"] += [d for d in definitions if d not in table["AttributeDefinitions"]]
    return [MetaTable(table) for table in tables.values()]


def reset() -> None:
    """Forget the shared connection: the next call builds one for the current engine (tests)."""
    global _shared
    _shared = None
