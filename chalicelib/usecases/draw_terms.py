"""What requests and draw runs share (SPEC R6): the committed next draw, the offers' ids and tokens."""
import hashlib
import hmac
import random
import secrets

from chalicelib import storage
from chalicelib.platform import draw_seal, keys
from chalicelib.platform.tokens import derived_token, token_hash, with_version
from chalicelib.rules import lottery, records, refusals

_rng = random.SystemRandom()


def offer_token(hold_id: str) -> str:
    """The offer's hold token, under the offers key's signing version: only the server can compute
    it, and it shows it only to whoever holds the request token (GET /requests/{id})."""
    ring = keys.ring(keys.OFFERS)
    return with_version(ring.version, derived_token(ring.secret, "offer", hold_id))


def offer_token_of(hold: records.Hold) -> str:
    """The token of an offer made earlier: under the version the offer was made with (the one
    whose token the hold stores the hash of), so a rotation does not change what GET /requests
    shows. Once that version is retired (the offer has lapsed by then, docs/deploy.md), the
    signing version's, which opens nothing."""
    for version, secret in keys.ring(keys.OFFERS).secrets:
        token = with_version(version, derived_token(secret, "offer", hold.hold_id))
        if token_hash(token) == hold.token_hash:
            return token
    return offer_token(hold.hold_id)


def new_commitment(site_id: str, procedure_id: str, now: float) -> records.Draw:
    """The next draw, committed: its seed's hash published, the seed itself only sealed (nobody
    who reads the tables learns it before the draw runs)."""
    seed = secrets.token_hex(32)  # 256 bits from the OS's cryptographic source
    draw_id = f"{int(now * 1000):015d}-{secrets.token_hex(4)}"
    draw = records.Draw(
        site_id=site_id,
        procedure_id=procedure_id,
        draw_id=draw_id,
        status="committed",
        seed_sealed=draw_seal.seal(seed, seal_context(site_id, procedure_id, draw_id)),
        seed_hash=lottery.seed_commitment(seed),
        committed_at=now,
    )
    result = storage.commit_draw_if_none_pending(draw)
    if not result.ok:
        raise refusals.DRAW_EXISTS.exception()
    return draw


def seal_context(site_id: str, procedure_id: str, draw_id: str) -> str:
    """What a sealed seed is bound to: it opens for this draw only."""
    return f"{site_id}#{procedure_id}#{draw_id}"


def committed_seed(draw: records.Draw) -> str:
    """The seed a draw allocates with, opened when it runs (an older draw kept it in clear)."""
    if draw.seed_sealed:
        return draw_seal.unseal(draw.seed_sealed, seal_context(draw.site_id, draw.procedure_id, draw.draw_id))
    assert draw.seed is not None, "a draw has its seed, sealed or (older draws) in clear"
    return draw.seed


def pending_draw(site_id: str, procedure_id: str, now: float) -> records.Draw:
    """The committed, not yet run draw (its seed hash is public); committed now if none. Writers
    only (a request filed, a draw run; in draw mode also a policy change, a schedule and the
    run_due_draws schedule): an anonymous read never writes."""
    for draw in storage.draws_of(site_id, procedure_id, limit=3):
        if draw.status == "committed":
            return draw
    return new_commitment(site_id, procedure_id, now)


UNFINISHED = ("running", "allocating")


REVEALED = ("allocating", "run")  # the allocation is recorded: the seed is public


def offer_hold_id(draw: records.Draw, request_id: str) -> str:
    """The same draw and request always name the same hold: a resumed draw's offer meets the
    one already made (the put is conditional on a new id) instead of making a second."""
    # The draw's site and procedure joined as its stored key was: offers made before keep their ids.
    named = f"draw-offer|{draw.site_id}#{draw.procedure_id}|{draw.draw_id}|{request_id}"
    # Under the signing version: a draw resumed across a rotation step names its offers anew,
    # and its request's "still waiting" condition stops a second offer (it counts as not possible).
    digest = hmac.new(keys.signing(keys.OFFERS).encode(), named.encode(), hashlib.sha256)
    return "hold_" + digest.hexdigest()[:24]
