"""R6 fairness of the draw (docs/fairness.md), beyond tests/unit/test_draw_allocation.py: uniformity with
mixed date ranges, no advantage from filing early or from the shape of a request id, positions in
multi-slot draws, the canceller's exclusion, and what narrowing a range can and cannot buy.

Everything is a pure function of fixed seeds: no timing, no flakiness. Each chi-square is checked
against its 0.1 % critical value (Wilson-Hilferty approximation, slightly conservative)."""
import hashlib
import itertools
import math

from chalicelib.rules import lottery

DAYS = [f"2026-12-{d:02d}" for d in range(1, 15)]


def seeds(n, tag):
    return [hashlib.sha256(f"fairness-{tag}-{i}".encode()).hexdigest() for i in range(n)]


def entrant(rid, first=DAYS[0], last=DAYS[-1], tier=2, excluded=()):
    return {"request_id": rid, "tier": tier, "first_day": first, "last_day": last, "excluded_slots": list(excluded)}


def pool(per_day, days=DAYS):
    return [{"slot_id": f"s-{day}-{k}", "day": day} for day in days for k in range(per_day)]


def chi_square(observed, expected):
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


def critical(dof, z=3.0902):
    """The 0.1 % critical value of chi-square with `dof` degrees of freedom (Wilson-Hilferty)."""
    h = 2 / (9 * dof)
    return dof * (1 - h + z * math.sqrt(h)) ** 3


def assert_uniform(counts, label=""):
    total = sum(counts)
    stat = chi_square(counts, [total / len(counts)] * len(counts))
    assert stat < critical(len(counts) - 1), (label, stat, counts)


def test_the_critical_values_match_the_tables():
    for dof, table in ((4, 18.47), (5, 20.52), (9, 27.88), (19, 43.82), (49, 85.35)):
        assert table <= critical(dof) <= table * 1.02


def test_with_mixed_date_ranges_entrants_with_the_same_range_have_the_same_chance():
    """Three groups want different weeks (one wants both); demand exceeds supply. Whatever the
    others ask for, entrants with identical ranges win equally often, and each group's winners
    get uniformly spread days within the range."""
    groups = {
        "week1": (DAYS[0], DAYS[6]),
        "week2": (DAYS[7], DAYS[13]),
        "both": (DAYS[0], DAYS[13]),
    }
    entrants = [entrant(f"{g}-{i}", *rng) for g, rng in groups.items() for i in range(6)]
    slots = pool(1, DAYS[3:10])  # 7 slots: days 4..10, so 4 in week 1 and 3 in week 2
    wins = {e["request_id"]: 0 for e in entrants}
    days = {g: {d: 0 for d in DAYS} for g in groups}
    for seed in seeds(6000, "mixed"):
        for request_id, slot_id in lottery.allocate(entrants, slots, seed):
            wins[request_id] += 1
            days[request_id.split("-")[0]][slot_id.split("-", 1)[1].rsplit("-", 1)[0]] += 1
    for g, (first, last) in groups.items():
        assert_uniform([wins[f"{g}-{i}"] for i in range(6)], g)
        in_range = [days[g][d] for d in DAYS if first <= d <= last and any(s["day"] == d for s in slots)]
        assert all(days[g][d] == 0 for d in DAYS if not first <= d <= last)
        assert min(in_range) > 0, (g, days[g])


def test_filing_early_gives_no_advantage():
    """A bot files first (its request is first in the list and has the smallest id): over many
    draws every filing position wins equally often, and the outcome does not depend on the order
    in which requests reach the draw."""
    entrants = [entrant(f"req_{i:04d}") for i in range(10)]  # time-ordered, sequential ids
    slots = pool(1, DAYS[:3])
    wins = [0] * 10
    for k, seed in enumerate(seeds(10000, "early")):
        allocation = lottery.allocate(entrants, slots, seed)
        if k % 500 == 0:
            shuffled = entrants[k % 10:] + entrants[:k % 10]
            assert lottery.allocate(list(reversed(shuffled)), list(reversed(slots)), seed) == allocation
        for request_id, _ in allocation:
            wins[int(request_id.split("_")[1])] += 1
    assert_uniform(wins, "filing position")


def test_the_shape_of_a_request_id_gives_no_advantage():
    """Refiling to get a 'better' id is useless: ids with small, large, short or long values
    win equally often (the order is HMAC(seed, id), and the seed is secret until the draw)."""
    ids = ["a", "zzzzzzzzzzzzzzzz", "req_000000000000000000000000", "req_ffffffffffffffffffffffff", "0", "~", "req_7", "Z"]
    wins = {i: 0 for i in ids}
    for seed in seeds(8000, "ids"):
        for request_id, _ in lottery.allocate([entrant(i) for i in ids], pool(1, DAYS[:2]), seed):
            wins[request_id] += 1
    assert_uniform(list(wins.values()), "id shape")


def test_positions_in_multi_slot_draws_are_uniform():
    """N entrants, S slots: each entrant is the k-th winner (k < S) or loses. For every entrant
    each winning position has probability 1/N; over all entrants the table entrant x position
    shows no dependence (chi-square of independence), and the slot the k-th winner gets is
    uniform among the S slots for every k."""
    n, s = 8, 4
    entrants = [entrant(f"r{i}") for i in range(n)]
    slots = pool(1, DAYS[:s])
    table = [[0] * (s + 1) for _ in range(n)]  # last column: lost
    slot_at = [[0] * s for _ in range(s)]
    rounds = 8000
    for seed in seeds(rounds, "positions"):
        allocation = lottery.allocate(entrants, slots, seed)
        assert len(allocation) == s
        placed = set()
        for position, (request_id, slot_id) in enumerate(allocation):
            table[int(request_id[1:])][position] += 1
            slot_at[position][DAYS.index(slot_id.split("-", 1)[1].rsplit("-", 1)[0])] += 1
            placed.add(request_id)
        for i in range(n):
            if f"r{i}" not in placed:
                table[i][s] += 1
    expected = [rounds / n] * s + [rounds * (n - s) / n]
    stat = sum(chi_square(row, expected) for row in table)
    assert stat < critical((n - 1) * s), (stat, table)
    for position in range(s):
        assert_uniform(slot_at[position], f"slot at position {position}")


def test_the_canceller_is_excluded_and_the_freed_slot_is_uniform_among_the_others():
    """A trafficker's fake identity freed s0 and entered again: it never gets s0 back; among the
    other entrants s0 goes uniformly (the buyer included, at 1/(N-1) of the times it is given)."""
    entrants = [entrant("canceller", excluded=["s-" + DAYS[0] + "-0"])] + [entrant(f"r{i}") for i in range(5)]
    slots = pool(1, DAYS[:1])
    got = {e["request_id"]: 0 for e in entrants}
    for seed in seeds(6000, "exclusion"):
        for request_id, _ in lottery.allocate(entrants, slots, seed):
            got[request_id] += 1
    assert got.pop("canceller") == 0
    assert sum(got.values()) == 6000  # the slot is always given
    assert_uniform(list(got.values()), "freed slot")


def test_fake_identities_raise_a_traffickers_odds_only_in_proportion():
    """K fake identities among N entrants win K/N of the slots, no more: the draw cannot tell a
    fake from a real identity (check-in, R7, is what makes a fake's win useless)."""
    k, n, s, rounds = 4, 12, 3, 6000
    entrants = [entrant(f"fake{i}") for i in range(k)] + [entrant(f"honest{i}") for i in range(n - k)]
    fake_wins = 0
    for seed in seeds(rounds, "fakes"):
        fake_wins += sum(r.startswith("fake") for r, _ in lottery.allocate(entrants, pool(1, DAYS[:s]), seed))
    expected = rounds * s * k / n
    # binomial-ish bound, 4 standard deviations: cannot flake
    assert abs(fake_wins - expected) < 4 * math.sqrt(expected * (1 - k / n)), (fake_wins, expected)


def test_narrowing_the_range_to_the_freed_slot_never_raises_the_odds_of_winning():
    """A buyer asks only for the day of the slot his trafficker frees, among N broad entrants and
    S free slots (one per day). He gets that exact slot with probability (S+1)/(2N) instead of
    1/N, but wins at all with that same (S+1)/(2N), never more than a broad entrant's S/N: the
    trafficker's freed slot is one more slot for everyone, not a slot for the buyer."""
    n, s, rounds = 10, 4, 12000
    slots = pool(1, DAYS[:s])
    freed = slots[0]["slot_id"]
    entrants = [entrant("buyer", DAYS[0], DAYS[0])] + [entrant(f"r{i}") for i in range(n - 1)]
    buyer_wins = broad_wins = 0
    for seed in seeds(rounds, "narrow"):
        allocation = dict(lottery.allocate(entrants, slots, seed))
        if "buyer" in allocation:
            assert allocation["buyer"] == freed
            buyer_wins += 1
        broad_wins += sum(1 for r in allocation if r != "buyer")
    p_buyer, p_broad = (s + 1) / (2 * n), s / n
    sd = math.sqrt(rounds * p_buyer * (1 - p_buyer))
    assert abs(buyer_wins - rounds * p_buyer) < 4 * sd, (buyer_wins, rounds * p_buyer)
    assert buyer_wins / rounds < p_broad
    assert broad_wins / ((n - 1) * rounds) > buyer_wins / rounds  # each broad entrant did better


def test_tiers_order_but_never_break_uniformity_within_a_tier():
    """Urgent entrants are served first; among the urgent, and among the rest, chances are equal."""
    entrants = [entrant(f"u{i}", tier=1) for i in range(3)] + [entrant(f"n{i}") for i in range(6)]
    wins = {e["request_id"]: 0 for e in entrants}
    for seed in seeds(6000, "tiers"):
        for request_id, _ in lottery.allocate(entrants, pool(1, DAYS[:5]), seed):
            wins[request_id] += 1
    assert [wins[f"u{i}"] for i in range(3)] == [6000] * 3
    assert_uniform([wins[f"n{i}"] for i in range(6)], "second tier")


def test_every_permutation_of_three_entrants_is_equally_likely_as_the_order():
    """The processing order within a tier is a uniform random permutation (3! = 6 orders)."""
    entrants = [entrant(r) for r in ("a", "b", "c")]
    orders = {p: 0 for p in itertools.permutations("abc")}
    for seed in seeds(6000, "perm"):
        orders[tuple(r for r, _ in lottery.allocate(entrants, pool(1, DAYS[:3]), seed))] += 1
    assert_uniform(list(orders.values()), "orders")
