"""R6: the draw as a pure, deterministic function of entrants, slots and seed."""
import hashlib

from chalicelib.rules import lottery

DAY = "2026-12-02"


def seeds(n):
    return [hashlib.sha256(f"seed-{i}".encode()).hexdigest() for i in range(n)]


def entrant(rid, tier=2, first=DAY, last=DAY, excluded=()):
    return {"request_id": rid, "tier": tier, "first_day": first, "last_day": last, "excluded_slots": list(excluded)}


def slots(n, day=DAY):
    return [{"slot_id": f"s{i}", "day": day} for i in range(n)]


def chi_square(counts, expected):
    return sum((c - expected) ** 2 / expected for c in counts)


def test_the_same_seed_gives_the_same_allocation():
    entrants, pool = [entrant(f"r{i}") for i in range(20)], slots(7)
    seed = seeds(1)[0]
    assert lottery.allocate(entrants, pool, seed) == lottery.allocate(list(reversed(entrants)), list(reversed(pool)), seed)


def test_every_slot_goes_to_at_most_one_request_and_each_request_gets_at_most_one():
    allocation = lottery.allocate([entrant(f"r{i}") for i in range(10)], slots(4), seeds(1)[0])
    assert len(allocation) == 4
    assert len({r for r, _ in allocation}) == len({s for _, s in allocation}) == 4


def test_winners_are_uniform_within_a_tier():
    wins = {f"r{i}": 0 for i in range(5)}
    for seed in seeds(5000):
        for request_id, _ in lottery.allocate([entrant(r) for r in wins], slots(1), seed):
            wins[request_id] += 1
    # chi-square with 4 degrees of freedom: 18.47 is the 0.1 % critical value
    assert chi_square(list(wins.values()), 1000) < 18.47, wins


def test_the_slot_a_winner_gets_is_uniform():
    got = {f"s{i}": 0 for i in range(6)}
    for seed in seeds(6000):
        for _, slot_id in lottery.allocate([entrant("only")], slots(6), seed):
            got[slot_id] += 1
    assert chi_square(list(got.values()), 1000) < 20.52, got  # 5 dof, 0.1 %


def test_urgent_permits_are_served_first():
    for seed in seeds(200):
        winners = {r for r, _ in lottery.allocate([entrant("u1", 1), entrant("u2", 1)] + [entrant(f"r{i}") for i in range(8)], slots(2), seed)}
        assert winners == {"u1", "u2"}


def test_a_request_only_gets_a_slot_in_its_range_and_never_one_it_freed():
    pool = slots(1, "2026-12-02") + [{"slot_id": "later", "day": "2026-12-20"}]
    for seed in seeds(100):
        allocation = dict(lottery.allocate([entrant("r", first="2026-12-10", last="2026-12-31", excluded=["s0"])], pool, seed))
        assert allocation == {"r": "later"}
        assert lottery.allocate([entrant("x", excluded=["s0"])], slots(1), seed) == []


def test_the_tier_depends_on_how_soon_the_permit_expires():
    from datetime import date

    today = date(2026, 11, 27)
    assert lottery.request_tier(date(2026, 12, 20), today) == 1
    assert lottery.request_tier(date(2026, 10, 1), today) == 1
    assert lottery.request_tier(date(2027, 6, 1), today) == 2
    assert lottery.request_tier(None, today) == 2


def test_the_commitment_is_the_sha256_of_the_seed():
    seed = seeds(1)[0]
    assert lottery.seed_commitment(seed) == hashlib.sha256(bytes.fromhex(seed)).hexdigest()
