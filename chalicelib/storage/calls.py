"""The storage-error wrapper every public storage function runs in, and one-call helpers.

Throttling, timeouts and an unreachable engine become a 503 with Retry-After
(errors.StorageUnavailable); a conditional single-item write answers a records.Outcome.
"""
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import Index
from pynamodb.models import Model

from chalicelib.rules.errors import StorageUnavailable
from chalicelib.rules.records import Outcome
from chalicelib.storage.connection import UNAVAILABLE, connection, key_attributes

RawItem = dict[str, Any]  # an item or a key in DynamoDB's JSON (a Query's page, a LastEvaluatedKey, a cancelled item)
M = TypeVar("M", bound=Model)  # the model a read asks for and gets back
P = ParamSpec("P")
R = TypeVar("R")


def _unavailable(exc: Exception) -> bool:
    """Is this failure the storage's (throttled, timed out, unreachable) rather than a condition?"""
    cause = getattr(exc, "cause", None)
    if isinstance(exc, BotoCoreError) or isinstance(cause, BotoCoreError):
        return True
    code = exc.cause_response_code if isinstance(exc, PynamoDBException) and isinstance(cause, ClientError) else None
    return code is None or code in UNAVAILABLE


@contextmanager
def storage_call() -> Iterator[None]:
    """Throttling, timeouts and an unreachable engine become a 503 with Retry-After."""
    try:
        connection()
        yield
    except TransactWriteError:
        raise  # transaction.py reads its cancellation reasons
    except (PynamoDBException, BotoCoreError) as exc:
        if _unavailable(exc):
            raise StorageUnavailable() from exc
        raise


def guarded(function: Callable[P, R]) -> Callable[P, R]:
    """`function` run inside storage_call."""
    @wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with storage_call():
            return function(*args, **kwargs)

    call.storage_guarded = True  # type: ignore[attr-defined]  # read by the wrapper test
    return call


# Public names of aggregate modules that make no DynamoDB call: table setup, pure key helpers,
# and builders of transaction items.
UNGUARDED = {"ensure_tables", "bookings_table_name", "booking_image", "guard_public_functions", "add_entries", "add_signals"}


def guard_public_functions(namespace: dict[str, Any]) -> None:
    """Wrap each public function of an aggregate module (namespace: its globals(), at its end) in
    storage_call, so that no read or write can be added that escapes the 503 mapping; the
    retries are in the shared connection (connection.py). tests/api/test_dynamodb_faults.py
    checks every module of the package."""
    for name, value in list(namespace.items()):
        if (not name.startswith("_") and name not in UNGUARDED and callable(value)
                and getattr(value, "__module__", None) == namespace["__name__"] and not isinstance(value, type)):
            namespace[name] = guarded(value)


def _key(model: type[Model], hash_key: Any, range_key: Any = None) -> tuple[Any, Any]:
    """A model's key values, serialized by its key attributes (as PynamoDB's models do)."""
    (_, hash_attribute), range_part = key_attributes(model)
    return hash_attribute.serialize(hash_key), (None if range_key is None or range_part is None
                                                else range_part[1].serialize(range_key))


def _key_of(item: Model) -> tuple[Any, Any]:
    (hash_name, _), range_part = key_attributes(type(item))
    return _key(type(item), getattr(item, hash_name), getattr(item, range_part[0]) if range_part else None)


def get(model: type[M], hash_key: Any, range_key: Any = None, consistent_read: bool = False) -> M | None:
    """One GetItem: the item, or None if there is none."""
    with storage_call():
        hash_value, range_value = _key(model, hash_key, range_key)
        found = connection().get_item(model.Meta.table_name, hash_value, range_key=range_value,
                                      consistent_read=consistent_read).get("Item")
    return model.from_raw_data(found) if found else None


def query(model: type[Model], partition: Any, range_key_condition: Condition | None = None, *, index: type[Index] | Index | None = None,
          limit: int | None = None, start_key: RawItem | None = None, **options: Any) -> tuple[list[RawItem], RawItem | None]:
    """ONE Query of a model's table or of one of its indexes (`index`, e.g. Slot.search): the
    page's raw items and its LastEvaluatedKey. `options`: filter_condition, consistent_read,
    scan_index_forward, as PynamoDB's Connection.query takes them."""
    (_, hash_attribute), _ = key_attributes(index if index is not None else model)
    with storage_call():
        page = connection().query(
            model.Meta.table_name, hash_attribute.serialize(partition), range_key_condition=range_key_condition,
            index_name=index.Meta.index_name if index is not None else None, limit=limit, exclusive_start_key=start_key,
            **options)
    return page.get("Items", []), page.get("LastEvaluatedKey")


def query_all(model: type[M], partition: Any, range_key_condition: Condition | None = None, *, limit: int | None = None, **options: Any) -> list[M]:
    """Every item of a Query, page after page (draw and statistics jobs, never a request's
    search); with `limit`, pages of `limit` until that many items (as Model.query did)."""
    found, start_key = query(model, partition, range_key_condition, limit=limit, **options)
    while start_key is not None and (limit is None or len(found) < limit):
        page, start_key = query(model, partition, range_key_condition, limit=limit, start_key=start_key, **options)
        found += page
    return [model.from_raw_data(item) for item in found[:limit]]


BATCH_GET_KEYS = 100  # DynamoDB's most keys per BatchGetItem


def batch_get(model: type[M], hash_keys: Iterable[Any], consistent_read: bool = False) -> list[M]:
    """The items of a hash-key-only model with these keys (BatchGetItem, 100 keys a call), the keys
    DynamoDB left unprocessed asked again until none is left (as Model.batch_get did)."""
    (_, hash_attribute), _ = key_attributes(model)
    keys = [{hash_attribute.attr_name: hash_attribute.serialize(key)} for key in set(hash_keys)]
    table, found = model.Meta.table_name, []
    with storage_call():
        for first in range(0, len(keys), BATCH_GET_KEYS):
            batch = keys[first:first + BATCH_GET_KEYS]
            while batch:
                answer = connection().batch_get_item(table, batch, consistent_read=consistent_read)  # type: ignore[arg-type]  # PynamoDB's hint says str keys; it takes and sends key dicts
                found += answer.get("Responses", {}).get(table, [])
                batch = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys")
    return [model.from_raw_data(item) for item in found]


def _condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def update(item: Model, actions: Sequence[Action], condition: Condition | None) -> None:
    """One conditional UpdateItem; `item` takes the stored values (ALL_NEW, as Model.update did)."""
    with storage_call():
        hash_value, range_value = _key_of(item)
        answer = connection().update_item(type(item).Meta.table_name, hash_value, range_key=range_value,
                                          actions=actions, condition=condition, return_values="ALL_NEW")
    item.deserialize(answer["Attributes"])


def update_if(item: Model, actions: Sequence[Action], condition: Condition, *, label: str) -> Outcome:
    """One conditional UpdateItem: done (`item` takes the stored values), or refused by the
    condition, labelled `label`. No model leaves storage: the caller reads `item` if it needs it."""
    try:
        update(item, actions, condition)
        return Outcome.done()
    except PynamoDBException as exc:
        if _condition_failed(exc):
            return Outcome.refused(label)
        raise


def save_if(item: Model, condition: Condition, *, label: str) -> Outcome:
    """One conditional PutItem of the whole item: done, or refused by the condition (`label`)."""
    (_, hash_attribute), range_part = key_attributes(type(item))
    try:
        with storage_call():
            attributes = item.serialize()  # refuses an item missing a required attribute, as save() did
            hash_value = attributes.pop(hash_attribute.attr_name)[hash_attribute.attr_type]
            range_value = attributes.pop(range_part[1].attr_name)[range_part[1].attr_type] if range_part else None
            connection().put_item(type(item).Meta.table_name, hash_value, range_key=range_value,
                                  attributes=attributes, condition=condition)
        return Outcome.done()
    except PynamoDBException as exc:
        if _condition_failed(exc):
            return Outcome.refused(label)
        raise
