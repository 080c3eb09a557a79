"""The audit trail: who changed what, when and from where; appended in the change's own transaction.

Use cases call `entry(...)` to get a records.NewAuditEntry and hand it to the storage function
that makes the change (storage appends its item in the same transaction, with a condition that
it is new), and staff read an entity's history here.
"""
from collections.abc import Iterable
from typing import Any

from chalicelib import storage
from chalicelib.platform import config
from chalicelib.platform.clock import epoch_of, to_rfc3339
from chalicelib.rules import identity_keys, records, refusals
from chalicelib.usecases import View
from chalicelib.usecases.ownership import found_or_404


def identity(identity_key: str) -> str:
    return f"identity:{identity_key}"


def partner(partner_id: str) -> str:
    return f"partner:{partner_id}"


def staff(subject: str) -> str:
    return f"staff:{subject}"


def purge_at(starts_at: str) -> int:
    """Audit entries expire with the personal data they point at."""
    return int(epoch_of(starts_at) + config.current().personal_data_retention_days * 86400)


def entry(entity_id: str, action: str, actor: str, now: float, starts_at: str, client_ip: str | None = None, **details: Any) -> records.NewAuditEntry:
    return records.NewAuditEntry(entity_id, action, actor, now, purge_at(starts_at), client_ip, details or None)


def staff_change(entity_id: str, action: str, staff_subject: str, now: float, client_ip: str | None = None, **details: Any) -> records.NewAuditEntry:
    """An entry for a staff change of configuration (a site, a policy, a schedule): there is no
    appointment for it to expire with, so it is kept that long from the change."""
    return records.NewAuditEntry(entity_id, action, staff(staff_subject), now,
                                 now + config.current().personal_data_retention_days * 86400, client_ip, details or None)


def site_entity(site_id: str) -> str:
    return f"site#{site_id}"


def policy_entity(site_id: str, procedure_id: str) -> str:
    return f"policy#{site_id}#{procedure_id}"


def _shown_actor(actor: str | None, site_id: str | None) -> str | None:
    """Staff never see an identity key: an applicant is named by its per-site pseudonym."""
    if actor and actor.startswith("identity:") and site_id:
        return identity_keys.actor_pseudonym(actor.removeprefix("identity:"), site_id)
    return actor


def _view(e: records.AuditEntry, site_id: str | None = None) -> View:
    return {
        "entity_id": e.entity_id,
        "at": to_rfc3339(epoch_of(e.at.split("#", 1)[0])),
        "action": e.action,
        "actor": _shown_actor(e.actor, site_id),
        "client_ip": e.client_ip,
        "details": e.details or {},
    }


def history_view(entity_id: str) -> View:
    return {"entity_id": entity_id, "history": [_view(e) for e in storage.history_of(entity_id)]}


def site_history(site_id: str, procedure_ids: Iterable[str]) -> View:
    """A site's creation and schedules, and the policy changes of its procedures, by time."""
    entries = storage.history_of(site_entity(site_id), *(policy_entity(site_id, p) for p in procedure_ids))
    return {"site_id": site_id, "history": [_view(e) for e in entries]}


def slot_history(slot_id: str) -> View:
    """A slot's history, for agents. Only a slot's: the audit table also holds partners'
    (admins only) and configuration entities, which this route must not reach under their ids."""
    found = found_or_404(storage.get_slot, slot_id, refusals.SLOT_NOT_FOUND)
    return {"slot_id": slot_id, "history": [_view(e, found.site_id) for e in storage.history_of(found.slot_id)]}


def booking_history(booking_id: str) -> View:
    """A booking's history includes its hold's (the hold came first, under another id)."""
    found = found_or_404(storage.get_booking, booking_id, refusals.BOOKING_NOT_FOUND)
    entries = storage.history_of(found.hold_id, found.booking_id)
    return {"booking_id": booking_id, "history": [_view(e, found.site_id) for e in entries]}
