"""The audit trail: entries appended in the transaction of the change they record, and read back."""
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from chalicelib.rules import records
from chalicelib.storage import values
from chalicelib.storage.calls import guard_public_functions, query_all, storage_call
from chalicelib.storage.models import AuditEntry
from chalicelib.storage.transaction import Transaction


def _audit_at(now: float) -> str:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{stamp}#{secrets.token_hex(4)}"


def add_entries(tx: Transaction, entries: Iterable[records.NewAuditEntry]) -> None:
    """Each records.NewAuditEntry appended in the transaction `tx`: a new item, never an update."""
    for entry in entries:
        item = AuditEntry(
            entry.entity_id, _audit_at(entry.at), action=entry.action, actor=entry.actor, client_ip=entry.client_ip,
            details=entry.details or None, purge_at=int(entry.purge_at),
        )
        tx.put("audit", item, AuditEntry.entity_id.does_not_exist())


def history_of(*entity_ids: str | None) -> list[records.AuditEntry]:
    """The entries of several entities by time; at the same instant (one transaction), in the
    order the entities are given (a hold before the booking it became)."""
    entries = []
    with storage_call():
        for rank, entity_id in enumerate(entity_ids):
            if entity_id:
                entries += [(e.at.split("#", 1)[0], rank, e.at, e) for e in query_all(AuditEntry, entity_id)]
    return [values.read(records.AuditEntry, e) for *_, e in sorted(entries, key=lambda t: t[:3])]


guard_public_functions(globals())
