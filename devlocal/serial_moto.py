"""Dev-only patch of moto's DynamoDB (never packaged): serializable actions, no instance leak.

moto 5 is not atomic under concurrent requests: two racing conditional writes or transactions can
both succeed, because each action reads, checks and writes items without a lock. Running every
DynamoDB action under one process-wide lock makes the engine serializable, like DynamoDB is for
single items and transactions. moto also appends every model instance it ever creates to a class
list (for its dashboard), which leaks memory in a long-running server; we stop tracking them.

moto also deep-copies every table a transaction touches, once per item, to be able to roll back:
a hold (one slot among 2,000) took about 0.5 s. We snapshot only the items the transaction names
and restore those (and trim the stream records of the rolled-back writes) on cancellation, which
is what the rollback needs. bench/storm.py measures both variants (FAIRSLOT_MOTO_TABLE_COPY=1
keeps moto's own behaviour).

The patch reaches into moto internals, so the moto version is pinned in requirements-dev.txt and
checked here; tests/engine/test_serial_moto.py proves the race is gone.
"""
import functools
import os
import threading

PINNED_MOTO = "5.2.5"
_lock = threading.RLock()
_applied = False


def apply():
    """Patch moto in this process (idempotent). Call before the first DynamoDB request."""
    global _applied
    if _applied:
        return
    import moto
    from moto.core import common_models
    from moto.core.model_instances import reset_model_data
    from moto.dynamodb.responses import DynamoHandler

    if moto.__version__ != PINNED_MOTO:
        raise RuntimeError(f"devlocal.serial_moto is written for moto {PINNED_MOTO}, found {moto.__version__}")

    action = DynamoHandler.call_action

    @functools.wraps(action)
    def serialized_call_action(self):
        with _lock:
            return action(self)

    DynamoHandler.call_action = serialized_call_action

    def untracked_new(cls, *args, **kwargs):
        return object.__new__(cls)

    common_models.BaseModel.__new__ = staticmethod(untracked_new)
    reset_model_data()
    if os.environ.get("FAIRSLOT_MOTO_TABLE_COPY") != "1":
        _rollback_by_item()
    _attribute_values_as_they_are()
    _applied = True


def _attribute_values_as_they_are():
    """moto serializes each attribute of each item it returns by walking botocore's model of an
    AttributeValue (ten members, aliases tried for each): ~2.5 ms an item, 20 s to read the 8,000
    free slots of a large draw. moto's items are DynamoDB JSON already ({"S": ...}, nested M and L
    in regular JSON, binary in base64), which is what that walk rebuilds, so they go out as they are."""
    from moto.core.serialize import BaseJSONSerializer

    members = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}
    walk = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self, serialized, value, shape, key):
        if key and shape.name == "AttributeValue" and isinstance(value, dict) and len(value) == 1 and set(value) <= members:
            serialized[key] = value
            return
        walk(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = serialize_structure


def _rollback_by_item():
    """Replace moto's whole-table backup in TransactWriteItems with a backup of the named items."""
    import copy

    from moto.dynamodb import models as backend_module
    from moto.dynamodb.models.table import Table

    class TablesAreNotCopied:
        """moto's transact_write_items deep-copies tables through this name; items still are."""

        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    backend_module.copy = TablesAreNotCopied
    transact = backend_module.DynamoDBBackend.transact_write_items

    @functools.wraps(transact)
    def transact_write_items(self, transact_items):
        saved = _items_the_transaction_names(self, transact_items)
        try:
            return transact(self, transact_items)
        except Exception:
            for item in reversed(saved):
                _restore_item(*item)
            raise

    backend_module.DynamoDBBackend.transact_write_items = transact_write_items


def _items_the_transaction_names(backend, transact_items):
    """(table, hash key, range key, copy of the item or None, stream length) for each item a
    transaction names, before it runs."""
    import copy

    saved = []
    for entry in transact_items:
        op = next(iter(entry.values()))
        table = backend.tables.get(op.get("TableName"))
        key = _item_key(table, op.get("Key") or op.get("Item") or {}) if table is not None else None
        if key is None:
            continue  # moto itself rejects the request before writing anything
        hash_value, range_value = key
        item = table.get_item(hash_value, range_value)
        shard = table.stream_shard
        saved.append((table, hash_value, range_value, copy.deepcopy(item), len(shard.items) if shard else 0))
    return saved


def _item_key(table, key):
    """The (hash, range) key of an item of this table as moto stores it, None if incomplete."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    except KeyError:
        return None
    return hash_value, range_value


def _restore_item(table, hash_value, range_value, item, stream_length):
    """Put back an item a failed transaction touched (remove it if it did not exist) and drop the
    stream records its writes appended."""
    if range_value is None:
        items = table.items
        key = hash_value
    else:
        items = table.items.setdefault(hash_value, {}) if item is not None else table.items.get(hash_value, {})
        key = range_value
    if item is None:
        items.pop(key, None)
    else:
        items[key] = item
    if table.stream_shard is not None:
        del table.stream_shard.items[stream_length:]


def tracked_instances():
    """How many model instances moto's tracker holds (0 once patched): for the leak test."""
    from moto.core.model_instances import model_data

    return sum(len(getattr(cls, "instances_tracked", [])) for models in model_data.values() for cls in models.values())
