"""Partners: their items and the key lookup behind the partner authorizer."""
from collections.abc import Iterable

from chalicelib.rules import records
from chalicelib.rules.records import Outcome
from chalicelib.storage import values
from chalicelib.storage.audit import add_entries
from chalicelib.storage.calls import get, guard_public_functions, query_all
from chalicelib.storage.models import Partner, PartnerKey
from chalicelib.storage.transaction import Transaction


def create_partner_if_new(partner: records.Partner, audit: Iterable[records.NewAuditEntry] = ()) -> Outcome:
    """The partner (records.Partner) and its key lookup, together (with its audit entry).
    Returns what failed."""
    tx = Transaction()
    tx.put("partner", values.item(Partner, partner, sk=partner.partner_id, sites=set(partner.sites) or None), Partner.sk.does_not_exist())
    tx.put(
        "key",
        PartnerKey(f"partner-key#{partner.key_hash}", partner_id=partner.partner_id, name=partner.name, daily_quota=partner.daily_quota,
                   sites=set(partner.sites) or None),
        PartnerKey.pk.does_not_exist(),
    )
    add_entries(tx, audit)
    return Outcome.of(tx.commit())


def list_partners() -> list[records.Partner]:
    return [values.partner(p) for p in query_all(Partner, "partner")]


def get_partner(partner_id: str) -> records.Partner | None:
    return values.partner(get(Partner, "partner", partner_id))


def revoke_partner_if_active(partner: records.Partner, now: float, audit: Iterable[records.NewAuditEntry] = ()) -> Outcome:
    """Revocation: the partner is marked revoked and its key lookup deleted, in one transaction,
    so the very next request with that key finds nothing. Returns what failed."""
    tx = Transaction()
    tx.update("partner", Partner("partner", partner.partner_id), actions=[Partner.revoked_at.set(now)],
              condition=Partner.sk.exists() & Partner.revoked_at.does_not_exist())
    tx.delete("key", PartnerKey(f"partner-key#{partner.key_hash}"), condition=PartnerKey.partner_id == partner.partner_id)
    add_entries(tx, audit)
    return Outcome.of(tx.commit())


def partner_by_key_hash(key_hash: str) -> records.PartnerKey | None:
    """One GetItem: the live partner behind an API key hash, or None (unknown or revoked)."""
    found = get(PartnerKey, f"partner-key#{key_hash}", "key")
    return None if found is None else values.read(records.PartnerKey, found, sites=frozenset(found.sites or ()))


guard_public_functions(globals())
