"""The storage-error wrapper every public storage function runs in, and one-call helpers.

Throttling, timeouts and an unreachable engine become a 503 with Retry-After
(errors.StorageUnavailable); a conditional single-item write answers True or False.
"""
from contextlib import contextmanager
from functools import wraps

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from chalicelib.errors import StorageUnavailable
from chalicelib.storage.connection import UNAVAILABLE, connection


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
UNGUARDED = {"ensure_tables", "bookings_table_name", "booking_image", "guard_public_functions"}


def guard_public_functions(namespace):
    """Wrap each public function of an aggregate module (namespace: its globals(), at its end) in
    storage_call, so that no read or write can be added that escapes the 503 mapping; the
    retries are in the shared connection (connection.py). tests/api/test_dynamodb_faults.py
    checks every module of the package."""
    for name, value in list(namespace.items()):
        if (not name.startswith("_") and name not in UNGUARDED and callable(value)
                and getattr(value, "__module__", None) == namespace["__name__"] and not isinstance(value, type)):
            namespace[name] = guarded(value)


def get(model, *key):
    """One GetItem: the item, or None if there is none."""
    with storage_call():
        try:
            return model.get(*key)
        except model.DoesNotExist:
            return None


def query_all(query, *args, **kwargs):
    """Every item of a Query, page after page (draw and statistics jobs, never a request's search)."""
    with storage_call():
        return list(query(*args, **kwargs))


def _condition_failed(exc):
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def update_if(item, actions, condition):
    """One conditional UpdateItem (`item` takes the stored values); False when the condition failed."""
    with storage_call():
        try:
            item.update(actions=actions, condition=condition)
            return True
        except PynamoDBException as exc:
            if _condition_failed(exc):
                return False
            raise


def save_if(item, condition):
    """One conditional PutItem; False when the condition failed."""
    with storage_call():
        try:
            item.save(condition=condition)
            return True
        except PynamoDBException as exc:
            if _condition_failed(exc):
                return False
            raise
