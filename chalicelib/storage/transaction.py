"""The labelled transaction: several items change together, and a cancellation says which
labelled condition failed (with the item as it was, for the facts a refusal needs)."""
import secrets
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.platform import observability
from chalicelib.rules.errors import StorageUnavailable
from chalicelib.storage.calls import RawItem, storage_call
from chalicelib.storage.connection import BUSY_REASONS, CONTENTION, UNAVAILABLE, connection

# PynamoDB sends condition checks, deletes, puts and updates in that order; the labels follow.
_ORDER = ("check", "delete", "put", "update")
# A condition's label: a name, or the position of a put in a batch (slots.create_slots_if_new).
Label = str | int
# The only reasons a cancelled transaction is an answer: an item's condition failed, and the
# items that had nothing to say. Any other reason means the transaction was not applied for a
# reason of the storage's own (malformed item, collection too large, unknown code): never a
# success, never a refusal.
_ANSWERS = {"None", "ConditionalCheckFailed"}


class Transaction:
    """A TransactWrite built at commit from labelled items."""

    def __init__(self) -> None:
        # One token per transaction: a retry after a throttled or lost answer is not applied twice.
        self._token = secrets.token_hex(16)
        self._items: dict[str, list] = {kind: [] for kind in _ORDER}

    def check(self, label: Label, model_cls: type[Model], hash_key: Any, range_key: Any = None, condition: Condition | None = None) -> None:
        self._items["check"].append((label, lambda tx: tx.condition_check(model_cls, hash_key, range_key, condition=condition)))

    def delete(self, label: Label, model: Model, condition: Condition) -> None:
        self._items["delete"].append((label, lambda tx: tx.delete(model, condition=condition)))

    def put(self, label: Label, model: Model, condition: Condition) -> None:
        self._items["put"].append((label, lambda tx: tx.save(model, condition=condition)))

    def update(self, label: Label, model: Model, actions: Sequence[Action], condition: Condition, return_old: bool = False) -> None:
        self._items["update"].append((label, lambda tx: tx.update(
            model, actions=actions, condition=condition, return_values="ALL_OLD" if return_old else None)))

    def commit(self) -> dict[Label, RawItem]:
        """Commit; returns {} or, when cancelled, {label: raw old item or {}} of the items whose
        condition failed. Throttled, unreachable or still contended, or cancelled for any reason
        but a failed condition (ValidationError, ItemCollectionSizeLimitExceeded...):
        StorageUnavailable, so a transaction that wrote nothing never reads as one that did."""
        try:
            with storage_call(), TransactWrite(connection=connection(), client_request_token=self._token) as tx:
                for kind in _ORDER:
                    for _, add in self._items[kind]:
                        add(tx)
            return {}
        except TransactWriteError as exc:
            return self._failed(exc)

    def _failed(self, exc: TransactWriteError) -> dict[Label, RawItem]:
        if _busy(exc):
            observability.logger().warning("transaction not applied", extra={"reasons": sorted(_codes(exc) - _ANSWERS)})
            raise StorageUnavailable()
        labels = [label for kind in _ORDER for label, _ in self._items[kind]]
        return {
            label: (reason.raw_item or {})
            for label, reason in zip(labels, exc.cancellation_reasons or [], strict=False)
            if reason is not None and reason.code == "ConditionalCheckFailed"
        }


def _busy(exc: TransactWriteError) -> bool:
    """A transaction DynamoDB did not judge: unreachable, throttled, or still in conflict with
    another one after every attempt (connection.py), with no condition of its own failed."""
    if not isinstance(exc.cause, ClientError) or exc.cause_response_code != "TransactionCanceledException":
        return True
    codes = _codes(exc)
    if not codes or codes - _ANSWERS - CONTENTION - BUSY_REASONS - UNAVAILABLE:
        return True  # no reason given, or one that is not an answer: a storage error
    if codes & UNAVAILABLE:
        return True
    return "ConditionalCheckFailed" not in codes


def _codes(exc: TransactWriteError) -> set[str]:
    return {r.code for r in exc.cancellation_reasons or [] if r is not None}
