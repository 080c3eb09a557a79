"""Proven identities (SPEC R10): one-time codes, identity tokens, and the lock key a hold, request
or look-up binds (DEVELOPERS.md, "Proven identities").

`POST /verifications` does the same work and answers the same way whether or not the identity can
be proven (an identity the registry does not know gets a verification that can never succeed, and
no e-mail); the right code buys an identity token, which holds, requests and look-ups on a
procedure that checks identities present, and which their own transaction checks.
"""
import hashlib
import hmac
import random
from email.message import EmailMessage
from email.utils import make_msgid

from chalicelib import storage
from chalicelib.platform import config, keys, registry
from chalicelib.platform.clock import to_rfc3339
from chalicelib.platform.keys import verification_digest
from chalicelib.platform.observability import logger, metric
from chalicelib.platform.tokens import new_id, new_token, token_hash
from chalicelib.rules import identity_keys, lifecycle, oversight, policies, proofs, refusals, registry_entries, submitted
from chalicelib.rules.policies import Policy
from chalicelib.usecases import View, notify, site_catalog

_rng = random.SystemRandom()


def _registry_entry(applicant: submitted.Applicant) -> registry_entries.RegistryEntry | None:
    """The registry's entry for this person if it matches number, birth date and family name;
    503 if the registry cannot answer (nothing decided, nothing written)."""
    try:
        entry = _registry().find(applicant.document.type, applicant.document.number, applicant.birth_date.isoformat())
    except registry.RegistryUnavailable:
        metric("RegistryUnavailable")
        logger().warning("identity registry unavailable")
        raise refusals.registry_unavailable().exception() from None
    if registry_entries.matches(entry, applicant.document, applicant.birth_date, applicant.family_name):
        return entry
    return None


def lock_key_of(policy: Policy, applicant: submitted.Applicant) -> str:
    """The key this applicant's locks bind on a procedure of this policy (rules/proofs.py::lock_key)."""
    identity = identity_keys.identity_key_of(keys.signing(keys.IDENTITIES), applicant.document, applicant.birth_date)
    return proofs.lock_key(identity, policy.identity_check, applicant.email)


def person_under_documents(policy: Policy, procedure_id: str, applicant: submitted.Applicant) -> tuple[str, str] | None:
    """Where a procedure accepts several documents, the person (family name and birth date) and
    this document's identity key, for the "one person, several documents" signal (R10)."""
    if len(policy.accepted_documents) < 2:
        return None
    identity = identity_keys.identity_key_of(keys.signing(keys.IDENTITIES), applicant.document, applicant.birth_date)
    return registry_entries.person_key(keys.signing(keys.IDENTITIES), applicant.family_name, applicant.birth_date, procedure_id), identity


# --- POST /verifications ------------------------------------------------------------------------

def start(site_id: str, procedure_id: str, applicant: submitted.Applicant, client_ip: str | None, now: float) -> View:
    """A one-time code for this applicant on this procedure: to the e-mail the registry holds
    (registry) or to the one typed (contact). 202 either way; only the e-mail differs."""
    site_catalog.procedure(site_id, procedure_id)
    policy = site_catalog.policy(site_id, procedure_id)
    if policy.identity_check == policies.NONE:
        raise refusals.VERIFICATION_NOT_NEEDED.exception()
    identity_keys.check_accepted_document(applicant.document.type, policy)
    if policy.identity_check == policies.REGISTRY:
        entry = _registry_entry(applicant)
        destination = entry.email if entry else None
    else:
        destination = applicant.email
    verification_id, code = new_id("vrf"), proofs.new_code(_rng)
    # An identity nobody can prove gets a digest no code has: the same item, the same transaction.
    secret_of_code = code if destination else new_token()
    verification = proofs.Verification(
        verification_id=verification_id, site_id=site_id, procedure_id=procedure_id, lock_key=lock_key_of(policy, applicant),
        code_digest=verification_digest(proofs.code_message(verification_id, secret_of_code)),
        expires_at=round(now + proofs.CODE_SECONDS, 3), destination=registry_entries.masked(destination or applicant.email))
    settings, window = config.current(), lifecycle.hour_window(now)
    result = storage.start_verification(
        verification,
        lifecycle.IpLimit(ip=client_ip or "unknown", window=window, max=settings.verification_max_per_ip_per_hour),
        oversight.IdentityLimit(identity=verification.lock_key, window=window, max=settings.verification_max_per_identity_per_hour),
    )
    if not result.ok:
        metric("VerificationsLimited")
        raise refusals.verification_limited(result, now, window[1]).exception()
    metric("VerificationStarted")
    if destination:
        _send_code(destination, verification_id, code, site_id)
    return {"verification_id": verification_id, "expires_at": to_rfc3339(verification.expires_at)}


_CODE_TEXT = ("Votre code de vérification : {code}\n\nIl est valable 10 minutes, pour la démarche demandée à {site}. "
              "Si vous n'avez rien demandé, ignorez ce message : personne ne peut réserver en votre nom sans ce code.",
              "Your verification code: {code}\n\nIt is valid for 10 minutes, for the procedure asked for at {site}. "
              "If you asked for nothing, ignore this message: nobody can book in your name without this code.")


def _send_code(to: str, verification_id: str, code: str, site_id: str) -> None:
    """The code by e-mail (an .eml named after the verification in the local outbox). A failure
    is counted: the applicant asks for a code again."""
    site = site_catalog.site(site_id)
    try:
        notify.send(_message(to, "Votre code fairslot / Your fairslot code", _CODE_TEXT, code=code, site=site.name),
                    f"verification-{verification_id}")
        metric("NotificationSent")
    except Exception:  # noqa: BLE001 -- counted; the verification simply cannot succeed
        metric("NotificationFailed")
        logger().warning("verification code not sent", extra={"verification_id": verification_id})


def _message(to: str, subject: str, texts: tuple[str, str], **values: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.current().mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="fairslot")
    message["Content-Language"] = "fr, en"
    message.set_content(texts[0].format(**values) + "\n\n---\n\n" + texts[1].format(**values) + "\n")
    return message


# --- POST /verifications/{verification_id} ------------------------------------------------------

def confirm_code(verification_id: str, code: str, now: float) -> View:
    """The right code buys an identity token (201); a wrong one is 422 and uses a try; five tries,
    then 429; an expired or used verification 410."""
    found = storage.get_verification(verification_id)
    refusal = refusals.code_refusal(found, now)
    if refusal is not None:
        raise refusal.exception()
    assert found is not None, "code_refusal refuses an unknown verification"
    if not storage.count_code_try(found, proofs.MAX_TRIES, now).ok:
        again = storage.get_verification(verification_id)
        raise (refusals.code_refusal(again, now) or refusals.VERIFICATION_USED).exception()
    presented = proofs.well_formed_code(code) or ""
    if not proofs.codes_match(found.code_digest, verification_digest(proofs.code_message(verification_id, presented))):
        metric("VerificationCodeRefused")
        raise refusals.CODE_INVALID.exception()
    token = new_token()
    proof = proofs.Proof(token_hash=token_hash(token), lock_key=found.lock_key, procedure_id=found.procedure_id,
                         site_id=found.site_id, expires_at=round(now + proofs.TOKEN_SECONDS, 3))
    if not storage.issue_proof_if_unused(found, proof).ok:
        raise refusals.VERIFICATION_USED.exception()  # the same right code sent twice at once: one token
    metric("IdentityProven")
    return {"identity_token": token, "expires_at": to_rfc3339(proof.expires_at), "destination": found.destination}


# --- what holds, requests and look-ups bind -----------------------------------------------------

def proof_needed(policy: Policy, procedure_id: str, applicant: submitted.Applicant, identity_token: str | None,
                 partner: bool = False) -> tuple[str, proofs.ProofCheck | None, str | None]:
    """The lock key a hold or request of `applicant` binds, what its transaction must check of
    the identity token (None: nothing), and for a partner on a registry procedure the registry's
    contact to tell once it is done (tell_registry_contact). Without a token where the procedure
    checks identities: 403, before anything is written. A partner presents no token: on a
    registry procedure the person must be in the registry (the association sees them)."""
    key = lock_key_of(policy, applicant)
    if partner:
        if policy.identity_check != policies.REGISTRY:
            return key, None, None
        entry = _registry_entry(applicant)
        if entry is None:
            raise refusals.REGISTRY_MISMATCH.exception()
        return key, None, entry.email
    if policy.identity_check == policies.NONE:
        return key, None, None
    if not identity_token:
        metric("IdentityUnverified")
        raise refusals.IDENTITY_UNVERIFIED.exception()
    return key, proofs.ProofCheck(token_hash=token_hash(identity_token), lock_key=key, procedure_id=procedure_id), None


_PARTNER_TEXT = ("Une demande de rendez-vous a été faite en votre nom à {site} par l'association {partner}. "
                 "Si ce n'est pas vous, présentez-vous au guichet avec votre titre : l'agent peut l'annuler.",
                 "An appointment was asked for in your name at {site} through the association {partner}. "
                 "If this was not you, come to the counter with your permit: the agent can cancel it.")


def tell_registry_contact(to: str | None, partner_id: str, site_id: str, now: float) -> None:
    """R10, partners: the registry's contact learns that an association acted in their name, at
    most once a day (R8: acts in someone's name cannot flood their mailbox)."""
    if not to:
        return
    site = site_catalog.site(site_id)
    try:
        digest = hmac.new(keys.signing(keys.IDENTITIES).encode(), b"partner-notice|" + to.encode(), hashlib.sha256).hexdigest()[:32]
        if not storage.first_acknowledgement_today(digest, oversight.day_window(now)).ok:
            metric("AcknowledgementsSkipped")
            return
        found = storage.get_partner(partner_id)
        partner_name = found.name if found else partner_id
        notify.send(_message(to, "Rendez-vous demandé en votre nom / An appointment asked for in your name", _PARTNER_TEXT,
                             site=site.name, partner=partner_name), f"partner-notice-{new_id('ntc')}")
        metric("NotificationSent")
    except Exception:  # noqa: BLE001 -- counted, never the partner's error
        metric("NotificationFailed")
        logger().warning("partner notice not sent", extra={"site_id": site_id})


def lookup_key(identity_key: str, email: str, identity_token: str | None, now: float) -> str:
    """The lock key "find my booking" looks under: the one an identity token proved for this
    document, birth date and e-mail (403 if the token proves another), or, without a token, the
    key of unproven bookings (procedures whose identity_check is none)."""
    if not identity_token:
        return proofs.lock_key(identity_key, policies.NONE, email)
    proof = storage.get_proof(token_hash(identity_token))
    if proof is None or proof.expires_at <= now or proof.lock_key not in proofs.lock_key_candidates(identity_key, email):
        raise refusals.IDENTITY_UNVERIFIED.exception()
    return proof.lock_key


def _registry() -> registry.Registry:
    """The registry configured: the prefecture's service when IDENTITY_REGISTRY_URL is set, else
    the JSON Lines file of IDENTITY_REGISTRY_FILE (docs/identity-registry.md)."""
    from chalicelib.platform import registry_http  # cold start: urllib and the breaker only where a registry is asked

    return registry_http.from_environment() or registry.current()
