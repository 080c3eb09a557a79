"""Partners: their items and the key lookup behind the partner authorizer."""
from chalicelib.errors import Conflict
from chalicelib.storage.calls import get, guard_public_functions, query_all
from chalicelib.storage.models import Partner, PartnerKey
from chalicelib.storage.transaction import Transaction


def create_partner_if_new(partner, also=()):
    """The partner and its key lookup, together (with its audit entry)."""
    tx = Transaction()
    tx.put("partner", partner, Partner.sk.does_not_exist())
    tx.put(
        "key",
        PartnerKey(f"partner-key#{partner.key_hash}", partner_id=partner.sk, name=partner.name, daily_quota=partner.daily_quota),
        PartnerKey.pk.does_not_exist(),
    )
    tx.add_all(also)
    if tx.commit():
        raise Conflict("This partner already exists.", code="partner_exists")


def list_partners():
    return query_all(Partner.query, "partner")


def get_partner(partner_id):
    return get(Partner, "partner", partner_id)


def revoke_partner_if_active(partner, now, also=()):
    """Revocation: the partner is marked revoked and its key lookup deleted, in one transaction,
    so the very next request with that key finds nothing."""
    tx = Transaction()
    tx.update("partner", Partner("partner", partner.sk), actions=[Partner.revoked_at.set(now)],
              condition=Partner.sk.exists() & Partner.revoked_at.does_not_exist())
    tx.delete("key", PartnerKey(f"partner-key#{partner.key_hash}"), condition=PartnerKey.partner_id == partner.sk)
    tx.add_all(also)
    if tx.commit():
        raise Conflict("This partner is already revoked.", code="partner_revoked")


def partner_by_key_hash(key_hash):
    """One GetItem: the live partner behind an API key hash, or None (unknown or revoked)."""
    return get(PartnerKey, f"partner-key#{key_hash}", "key")


guard_public_functions(globals())
