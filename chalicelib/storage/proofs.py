"""Proven identities (R10): one-time codes asked for and tried, identity tokens issued and checked."""
from chalicelib.rules.lifecycle import IpLimit
from chalicelib.rules.oversight import IdentityLimit
from chalicelib.rules.proofs import Proof, Verification
from chalicelib.rules.records import Outcome
from chalicelib.storage import models
from chalicelib.storage.calls import get, guard_public_functions, update_if
from chalicelib.storage.conditions import count_for_ip, count_under_cap, proof_key
from chalicelib.storage.models import IdentityProof
from chalicelib.storage.transaction import Transaction

_PURGE_AFTER_SECONDS = 86400  # a code or token is worth nothing once expired; kept a day for the record


def _verification_key(verification_id: str) -> str:
    return f"verification#{verification_id}"


def start_verification(verification: Verification, ip_limit: IpLimit, identity_limit: IdentityLimit) -> Outcome:
    """A code asked for: one more from this client IP and for this identity this hour, both under
    their caps, and the verification written, in one transaction (the same for an identity nobody
    can prove). Returns what failed ("ip", "identity")."""
    tx = Transaction()
    count_for_ip(tx, "verify-ip", ip_limit)
    start, end = identity_limit["window"]
    count_under_cap(tx, "identity", f"verify-identity#{identity_limit['identity']}#{start}", end, identity_limit["max"])
    tx.put("verification", models.Verification(
        _verification_key(verification.verification_id), "verification", site_id=verification.site_id,
        procedure_id=verification.procedure_id, lock_key=verification.lock_key, code_digest=verification.code_digest,
        expires_at=verification.expires_at, destination=verification.destination, tries=0,
        purge_at=int(verification.expires_at + _PURGE_AFTER_SECONDS)), models.Verification.identity_key.does_not_exist())
    return Outcome.of(tx.commit())


def get_verification(verification_id: str) -> Verification | None:
    found = get(models.Verification, _verification_key(verification_id), "verification", consistent_read=True)
    if found is None:
        return None
    return Verification(verification_id=verification_id, site_id=found.site_id, procedure_id=found.procedure_id,
                        lock_key=found.lock_key, code_digest=found.code_digest, expires_at=float(found.expires_at),
                        destination=found.destination, tries=int(found.tries or 0), used=bool(found.used))


def count_code_try(verification: Verification, max_tries: int, now: float) -> Outcome:
    """One more try of a code, only while the verification is unused, unexpired and under its
    tries (so concurrent tries cannot exceed them). Refused: "verification"."""
    item = models.Verification(_verification_key(verification.verification_id), "verification")
    V = models.Verification
    return update_if(item, [V.tries.add(1)],
                     V.identity_key.exists() & V.used.does_not_exist() & (V.expires_at > now) & (V.tries < max_tries),
                     label="verification")


def issue_proof_if_unused(verification: Verification, proof: Proof) -> Outcome:
    """The right code: the verification is used up and its identity token's proof written, in one
    transaction (a code buys one token). Refused: "verification" (used meanwhile)."""
    tx = Transaction()
    V = models.Verification
    tx.update("verification", V(_verification_key(verification.verification_id), "verification"), actions=[V.used.set(True)],
              condition=V.identity_key.exists() & V.used.does_not_exist())
    tx.put("proof", IdentityProof(proof_key(proof.token_hash), "proof", lock_key=proof.lock_key, procedure_id=proof.procedure_id,
                                  site_id=proof.site_id, expires_at=proof.expires_at,
                                  purge_at=int(proof.expires_at + _PURGE_AFTER_SECONDS)),
           IdentityProof.identity_key.does_not_exist())
    return Outcome.of(tx.commit())


def get_proof(token_hash: str) -> Proof | None:
    found = get(IdentityProof, proof_key(token_hash), "proof")
    if found is None:
        return None
    return Proof(token_hash=token_hash, lock_key=found.lock_key, procedure_id=found.procedure_id, site_id=found.site_id,
                 expires_at=float(found.expires_at))


guard_public_functions(globals())
