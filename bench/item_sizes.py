"""Measures DynamoDB item sizes of fairslot's models and the capacity units each operation costs.

Builds realistic items with the real PynamoDB models, serialises them exactly as PynamoDB sends
them (`Model.serialize()`), and sizes them with DynamoDB's published rules: attribute names plus
values; strings in UTF-8 bytes; numbers about 1 byte per 2 significant digits plus 1; maps and
lists 3 bytes plus 1 per element. Nothing is sent anywhere.

    python bench/item_sizes.py

Prices are an assumption (see docs/capacity.md): eu-west-3 on-demand, standard table class.
"""
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TABLE_PREFIX", "fairslot-bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")

from chalicelib.models import Booking, Counter, Hold, IdentityState, Policy, Site, Slot  # noqa: E402

# ASSUMED on-demand prices, USD per million request units, eu-west-3 (Paris), standard table
# class, after the November 2024 halving of on-demand prices. Not verified here: check
# https://aws.amazon.com/dynamodb/pricing/on-demand/ before relying on them.
PRICE_PER_MILLION_WRU = 0.7288
PRICE_PER_MILLION_RRU = 0.1458

NOW = 1_795_000_000.123
SLOT_ID = "slot_4f1c2d3e4a5b6c7d8e9f0a1b"
HOLD_ID = "hold_9a8b7c6d5e4f3a2b1c0d9e8f"
BOOKING_ID = "bkg_1a2b3c4d5e6f7a8b9c0d1e2f"
IDENTITY = "5f2b" * 16  # HMAC-SHA256 hex
TOKEN_HASH = "c0ffee" * 10 + "abcd"  # SHA-256 hex
APPLICANT = dict(
    document_type="agdref",
    family_name="Nguyen-Hernández",
    given_names="Maria Fernanda",
    email="maria.fernanda.nguyen@example.org",
    phone="+33612345678",
)


def number_size(text):
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value):
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind in ("SS",):
        return sum(len(s.encode()) for s in inner)
    if kind in ("NS",):
        return sum(number_size(s) for s in inner)
    raise ValueError(kind)


def item_size(model):
    raw = model.serialize()
    return sum(len(name.encode()) + value_size(value) for name, value in raw.items())


def samples():
    from chalicelib.models import Applicant

    slot_open = Slot(
        SLOT_ID, site_id="herault", procedure_id="renewal", starts_at="2026-12-03T08:30:00Z",
        ends_at="2026-12-03T08:45:00Z", state="open", available_from=NOW, search_pk="herault#renewal",
        freed_count=0, created_at=NOW,
    )
    slot_held = Slot(
        SLOT_ID, site_id="herault", procedure_id="renewal", starts_at="2026-12-03T08:30:00Z",
        ends_at="2026-12-03T08:45:00Z", state="held", available_from=NOW + 3600.5,
        search_pk="herault#renewal", hold_id=HOLD_ID, hold_expires_at=NOW + 600, freed_count=1,
        created_at=NOW,
    )
    slot_booked = Slot(
        SLOT_ID, site_id="herault", procedure_id="renewal", starts_at="2026-12-03T08:30:00Z",
        ends_at="2026-12-03T08:45:00Z", state="booked", available_from=NOW + 3600.5,
        hold_id=HOLD_ID, hold_expires_at=NOW + 600, booking_id=BOOKING_ID, freed_count=1, created_at=NOW,
    )
    hold = Hold(
        HOLD_ID, token_hash=TOKEN_HASH, slot_id=SLOT_ID, site_id="herault", procedure_id="renewal",
        starts_at="2026-12-03T08:30:00Z", ends_at="2026-12-03T08:45:00Z", identity_key=IDENTITY,
        applicant=Applicant(**APPLICANT), expires_at=NOW + 600, status="active",
        client_ip="2a01:cb00:1234:5600:abcd:ef01:2345:6789", created_at=NOW, purge_at=int(NOW + 90 * 86400),
    )
    hold_confirmed = Hold(**{**hold.attribute_values, "status": "confirmed", "booking_id": BOOKING_ID,
                             "reference": "FS-7K3M-Q9RT"})
    booking = Booking(
        BOOKING_ID, token_hash=TOKEN_HASH, reference="FS-7K3M-Q9RT", hold_id=HOLD_ID, slot_id=SLOT_ID,
        site_id="herault", procedure_id="renewal", starts_at="2026-12-03T08:30:00Z",
        ends_at="2026-12-03T08:45:00Z", day_pk="herault#2026-12-03", identity_key=IDENTITY,
        applicant=Applicant(**APPLICANT), status="booked", created_at=NOW, purge_at=int(NOW + 90 * 86400),
    )
    booking_partner = Booking(**{**booking.attribute_values, "partner_id": "ptn_0a1b2c3d4e5f6a7b8c9d0e1f"})
    booking_cancelled = Booking(**{**booking.attribute_values, "status": "cancelled", "cancelled_at": NOW + 86400})
    identity_hold = IdentityState(
        IDENTITY, "hold", hold_id=HOLD_ID, hold_expires_at=NOW + 600, hold_lapse_until=NOW + 600 + 86400,
        purge_at=int(NOW + 90 * 86400),
    )
    identity_cooldown = IdentityState(IDENTITY, "hold", cooldown_until=NOW + 86400, purge_at=int(NOW + 90 * 86400))
    identity_booking = IdentityState(
        IDENTITY, "booking#renewal", booking_id=BOOKING_ID, booking_ends_at=NOW + 7 * 86400,
        purge_at=int(NOW + 90 * 86400),
    )
    counter = Counter("holds-ip#2a01:cb00:1234:5600:abcd:ef01:2345:6789#1794999600", n=7,
                      expires_ttl=1795003200)
    site = Site(sk="herault", name="Préfecture de l'Hérault", address="34 place des Martyrs de la Résistance, 34000 Montpellier",
                timezone="Europe/Paris",
                procedures=[{"procedure_id": "renewal", "name": "Renouvellement de titre de séjour"},
                            {"procedure_id": "student", "name": "Titre de séjour étudiant"}])
    policy = Policy(pk="policy#herault", sk="renewal", values={
        "hold_ttl_seconds": 600, "quarantine_min_seconds": 1800, "quarantine_max_seconds": 21600,
        "cooldown_seconds": 86400, "allocation": "fcfs", "publish_window_seconds": 3600,
        "max_holds_per_ip_per_hour": 20}, updated_at=NOW)
    return {
        "slot (open, in search index)": slot_open,
        "slot (held)": slot_held,
        "slot (booked)": slot_booked,
        "hold (active)": hold,
        "hold (confirmed)": hold_confirmed,
        "booking": booking,
        "booking (partner)": booking_partner,
        "booking (cancelled)": booking_cancelled,
        "identity (hold scope, active)": identity_hold,
        "identity (hold scope, cooldown)": identity_cooldown,
        "identity (booking scope)": identity_booking,
        "counter (holds per IP)": counter,
        "catalog: site": site,
        "catalog: policy": policy,
    }


def wcu(size, transactional=False):
    """Write units for one item: 1 per started KB, doubled inside a transaction."""
    return math.ceil(max(size, 1) / 1024) * (2 if transactional else 1)


def rcu(total_size, consistent=False):
    """Read units for one GetItem or one Query page: per started 4 KB; eventually consistent
    reads cost half."""
    units = math.ceil(max(total_size, 1) / 4096)
    return units if consistent else units / 2


def main():
    items = samples()
    sizes = {name: item_size(model) for name, model in items.items()}
    print("Item sizes (bytes, DynamoDB accounting, from PynamoDB serialize())")
    for name, size in sizes.items():
        print(f"  {name:34s} {size:5d}")

    s = sizes
    # Updates are billed on the larger of the item before and after the write.
    ops = {
        "search (1 Query page of 20 slots, eventually consistent)": dict(
            reads=[rcu(20 * s["slot (open, in search index)"])], writes=[]),
        "hold (GetItem slot + TransactWrite of 5)": dict(
            reads=[rcu(s["slot (open, in search index)"])],
            writes=[wcu(max(s["slot (open, in search index)"], s["slot (held)"]), True),
                    wcu(s["identity (hold scope, active)"], True),
                    wcu(s["identity (booking scope)"], True),  # ConditionCheck
                    wcu(s["counter (holds per IP)"], True),
                    wcu(s["hold (active)"], True),
                    wcu(s["slot (held)"])]),  # search GSI (ALL projection) updated
        "confirm (GetItem hold + TransactWrite of 5)": dict(
            reads=[rcu(s["hold (active)"])],
            writes=[wcu(max(s["slot (held)"], s["slot (booked)"]), True),
                    wcu(s["hold (confirmed)"], True),
                    wcu(s["booking"], True),
                    wcu(s["identity (hold scope, active)"], True),
                    wcu(s["identity (booking scope)"], True),
                    wcu(s["slot (held)"]),  # search GSI entry deleted (search_pk removed)
                    wcu(s["booking"])]),  # day GSI entry written
        "cancel (GetItem booking + TransactWrite of 4)": dict(
            reads=[rcu(s["booking"])],
            writes=[wcu(s["booking (cancelled)"], True),
                    wcu(max(s["slot (booked)"], s["slot (open, in search index)"]), True),
                    wcu(s["identity (hold scope, cooldown)"], True),
                    wcu(s["identity (booking scope)"], True),  # delete
                    wcu(s["slot (open, in search index)"]),  # search GSI entry written again
                    wcu(s["booking (cancelled)"])]),  # day GSI entry updated
    }
    print()
    print("Capacity per operation (on-demand request units; GSI writes included)")
    totals = {}
    for name, op in ops.items():
        r, w = sum(op["reads"]), sum(op["writes"])
        totals[name] = (r, w)
        print(f"  {name:58s} RRU {r:4.1f}  WRU {w:3d}")

    # A hold that loses the race: the transaction is cancelled on the slot's condition. DynamoDB
    # bills the items it had to evaluate; count the same units as a successful hold (an upper bound).
    print(f"  {'failed hold attempt (condition fails; upper bound)':58s} RRU {totals[list(ops)[1]][0]:4.1f}"
          f"  WRU {totals[list(ops)[1]][1] - wcu(s['slot (held)']):3d}")

    # 10,000 bookings: each applicant searches 3 pages, holds, confirms; 10% cancel later.
    search, hold, confirm, cancel = (totals[k] for k in ops)
    n = 10_000
    rru = n * (3 * search[0] + hold[0] + confirm[0]) + n // 10 * cancel[0]
    wru = n * (hold[1] + confirm[1]) + n // 10 * cancel[1]
    cost = rru / 1e6 * PRICE_PER_MILLION_RRU + wru / 1e6 * PRICE_PER_MILLION_WRU
    print()
    print("10,000 bookings (3 search pages + hold + confirm each, 10% cancelled later)")
    print(f"  read request units  {rru:10,.0f}")
    print(f"  write request units {wru:10,.0f}")
    print(f"  DynamoDB on-demand cost at assumed eu-west-3 prices "
          f"(${PRICE_PER_MILLION_RRU}/M RRU, ${PRICE_PER_MILLION_WRU}/M WRU): ${cost:.2f}")


if __name__ == "__main__":
    main()
