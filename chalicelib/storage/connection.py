"""The one DynamoDB connection every model and transaction shares, and its one retry point."""
import random
import threading
import time

from botocore.exceptions import ClientError

from chalicelib import config

CONTENTION = {"TransactionConflict"}
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
_jitter = random.Random()
_shared = None
_lock = threading.Lock()


def transient(exc):
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
    return bool(reasons & (CONTENTION | UNAVAILABLE)) and "ConditionalCheckFailed" not in reasons


def pause(seconds):
    time.sleep(seconds)


def _retrying_connection_class():
    """PynamoDB's Connection whose public `dispatch` (every operation goes through it) is tried up
    to STORAGE_ATTEMPTS times while its failure is transient, with full jitter (a random pause up
    to 50 ms, 100 ms, 200 ms...) so that the callers who collided do not collide again. A
    transaction carries its own ClientRequestToken (transaction.py), so trying it again never
    applies it twice. Built on first use: pynamodb's connection module is not imported before."""
    from pynamodb.connection import Connection

    class RetryingConnection(Connection):
        def dispatch(self, operation_name, operation_kwargs):
            attempts = config.current().storage_attempts
            for n in range(attempts):
                try:
                    return super().dispatch(operation_name, dict(operation_kwargs))
                except ClientError as exc:
                    if not transient(exc) or n + 1 >= attempts:
                        raise
                    pause(_jitter.uniform(0, min(1.0, 0.05 * 2 ** n)))

    return RetryingConnection


def connection():
    """The one DynamoDB connection (and botocore client) every model and transaction shares.

    Created once under a lock: PynamoDB builds a client lazily per model, and threads racing
    to do so (chalice local serves each request on a thread) built dozens of clients, ~8 MB each.
    In Lambda one client instead of seven also means less work on the first request."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                settings = config.current()
                shared = _retrying_connection_class()(
                    region=settings.region,
                    host=settings.dynamodb_endpoint,
                    connect_timeout_seconds=2,
                    read_timeout_seconds=settings.dynamodb_read_timeout_seconds,
                    max_retry_attempts=settings.dynamodb_max_retries,
                    max_pool_connections=50,
                )
                shared.client  # noqa: B018 -- build the client now, under the lock
                _share_with_every_model(shared)
                _shared = shared
    return _shared


def _share_with_every_model(shared):
    """Every model's table connection talks through `shared`.

    The one use of a PynamoDB internal (Model._get_connection, the model's cached
    TableConnection): PynamoDB has no public setting for a connection shared by several models,
    and without it each model builds its own botocore client (see connection()) and bypasses the
    retry point. tests/api/test_dynamodb_faults.py::test_one_botocore_client_serves_every_model
    fails loudly if a PynamoDB upgrade changes it."""
    from chalicelib.storage.models import ALL_MODELS, Policy, SiteFigures

    for model in ALL_MODELS + (Policy, SiteFigures):
        table = model._get_connection()
        try:
            shared.add_meta_table(table.connection.get_meta_table(table.table_name))
        except ValueError:  # several models share a table (catalog, audit, draws): added once
            pass
        table.connection = shared


def reset():
    """Forget the shared connection: the next call builds one for the current engine (tests)."""
    global _shared
    _shared = None
