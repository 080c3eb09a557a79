"""The storage-error wrapper every public storage function runs in, and one-call helpers.

Throttling, timeouts and an unreachable engine become a 503 with Retry-After
(errors.StorageUnavailable); a conditional single-item write answers a records.Outcome.
"""
from contextlib import contextmanager
from functools import wraps

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from chalicelib.rules.errors import StorageUnavailable
from chalicelib.rules.records import Outcome
from chalicelib.storage.connection import UNAVAILABLE, connection, key_attributes


def _unavailable(exc):
    """Is this failure the storage's (throttled, timed out, unreachable) rather than a condition?"""
    cause = getattr(exc, "cause", None)
    if isinstance(exc, BotoCoreError) or isinstance(cause, BotoCoreError):
        return True
    code = exc.cause_response_code if isinstance(exc, PynamoDBException) and isinstance(cause, ClientError) else None
    return code is None or code in UNAVAILABLE


@contextmanager
def storage_call():
    """Throttling, timeouts and an unreachable engine become a 503 with Retry-After."""
    try:
        connection()
        yield
    except TransactWriteError:
        raise  # transaction.py reads its cancellation reasons
    except (PynamoDBException, BotoCoreError) as exc:
        if _unavailable(exc):
            raise StorageUnavailable()
        raise


def guarded(function):
    """`function` run inside storage_call."""
    @wraps(function)
    def call(*args, **kwargs):
        with storage_call():
            return function(*args, **kwargs)

    call.storage_guarded = True  # type: ignore[attr-defined]  # read by the wrapper test
    return call


# Public names of aggregate modules that make no DynamoDB call: table setup, pure key helpers,
# and builders of transaction items.
UNGUARDED = {"ensure_tables", "bookings_table_name", "booking_image", "guard_public_functions", "add_entries", "add_signals"}


def guard_public_functions(namespace):
    """Wrap each public function of an aggregate module (namespace: its globals(), at its end) in
    storage_call, so that no read or write can be added that escapes the 503 mapping; the
    retries are in the shared connection (connection.py). tests/api/test_dynamodb_faults.py
    checks every module of the package."""
    for name, value in list(namespace.items()):
        if (not name.startswith("_") and name not in UNGUARDED and callable(value)
                and getattr(value, "__module__", None) == namespace["__name__"] and not isinstance(value, type)):
            namespace[name] = guarded(value)


def _key(model, hash_key, range_key=None):
    """A model's key values, serialized by its key attributes (as PynamoDB's models do)."""
    (_, hash_attribute), range_part = key_attributes(model)
    return hash_attribute.serialize(hash_key), (None if range_key is None or range_part is None
                                                else range_part[1].serialize(range_key))


def _key_of(item):
    (hash_name, _), range_part = key_attributes(type(item))
    return _key(type(item), getattr(item, hash_name), getattr(item, range_part[0]) if range_part else None)


def get(model, hash_key, range_key=None, consistent_read=False):
    """One GetItem: the item, or None if there is none."""
    with storage_call():
        hash_value, range_value = _key(model, hash_key, range_key)
        found = connection().get_item(model.Meta.table_name, hash_value, range_key=range_value,
                                      consistent_read=consistent_read).get("Item")
    return model.from_raw_data(found) if found else None


def query(model, partition, range_key_condition=None, *, index=None, limit=None, start_key=None, **options):
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


def query_all(model, partition, range_key_condition=None, *, limit=None, **options):
    """Every item of a Query, page after page (draw and statistics jobs, never a request's
    search); with `limit`, pages of `limit` until that many items (as Model.query did)."""
    found, start_key = query(model, partition, range_key_condition, limit=limit, **options)
    while start_key is not None and (limit is None or len(found) < limit):
        page, start_key = query(model, partition, range_key_condition, limit=limit, start_key=start_key, **options)
        found += page
    return [model.from_raw_data(item) for item in found[:limit]]


BATCH_GET_KEYS = 100  # DynamoDB's most keys per BatchGetItem


def batch_get(model, hash_keys, consistent_read=False):
    """The items of a hash-key-only model with these keys (BatchGetItem, 100 keys a call), the keys
    DynamoDB left unprocessed asked again until none is left (as Model.batch_get did)."""
    (_, hash_attribute), _ = key_attributes(model)
    keys = [{hash_attribute.attr_name: hash_attribute.serialize(key)} for key in set(hash_keys)]
    table, found = model.Meta.table_name, []
    with storage_call():
        for first in range(0, len(keys), BATCH_GET_KEYS):
            batch = keys[first:first + BATCH_GET_KEYS]
            while batch:
                answer = connection().batch_get_item(table, batch, consistent_read=consistent_read)
                found += answer.get("Responses", {}).get(table, [])
                batch = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys")
    return [model.from_raw_data(item) for item in found]


def _condition_failed(exc):
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def update(item, actions, condition):
    """One conditional UpdateItem; `item` takes the stored values (ALL_NEW, as Model.update did)."""
    with storage_call():
        hash_value, range_value = _key_of(item)
        answer = connection().update_item(type(item).Meta.table_name, hash_value, range_key=range_value,
                                          actions=actions, condition=condition, return_values="ALL_NEW")
    item.deserialize(answer["Attributes"])


def update_if(item, actions, condition, *, label):
    """One conditional UpdateItem: done (`item` takes the stored values), or refused by the
    condition, labelled `label`. No model leaves storage: the caller reads `item` if it needs it."""
    try:
        update(item, actions, condition)
        return Outcome.done()
    except PynamoDBException as exc:
        if _condition_failed(exc):
            return Outcome.refused(label)
        raise


def save_if(item, condition, *, label):
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
