"""Public figures (GET /stats): counters ADDed in the transaction of the change they count."""
from zlib import crc32

from chalicelib.rules import records
from chalicelib.storage.calls import guard_public_functions, query_all
from chalicelib.storage.models import FIGURE_SHARDS, SiteFigures
from chalicelib.storage.transaction import Transaction

FIGURE_NAMES = ("published", "booked", "cancelled", "quarantined", "freed_late", "attended", "refused", "no_show", "closed")


def figures_item(site_id: str, procedure_id: str, starts_at: str, slot_id: str) -> SiteFigures:
    return SiteFigures(f"figures#{site_id}", f"{starts_at[:10]}#{procedure_id}#{crc32(slot_id.encode()) % FIGURE_SHARDS}")


def count_in(tx: Transaction, site_id: str, procedure_id: str, starts_at: str, slot_id: str, **added: int) -> None:
    """Public counters ADDed in the transaction of the change they count: they cannot disagree
    with it. `starts_at` is the appointment's (UTC, RFC 3339): its day is the counters' day."""
    tx.update(
        "figures",
        figures_item(site_id, procedure_id, starts_at, slot_id),
        actions=[getattr(SiteFigures, name).add(n) for name, n in added.items()],
        # Created by the first change of its day, incremented by the others.
        condition=SiteFigures.pk.does_not_exist() | SiteFigures.pk.exists(),
    )


def count_change_of(tx: Transaction, held: records.Hold | records.Booking, **added: int) -> None:
    """The figures of the slot a hold or booking is for."""
    count_in(tx, held.site_id, held.procedure_id, held.starts_at, held.slot_id, **added)


def freed_figure(available_from: float | None) -> dict[str, int]:
    """A freed slot counts as quarantined (back to search or the draw later), or freed_late (too
    late for either: left to the counter, conditions.free_the_slot)."""
    return {"freed_late": 1} if available_from is None else {"quarantined": 1}


def figures_of_site(site_id: str, first_day: str, last_day: str) -> dict[str, dict[str, int]]:
    """{procedure_id: {figure: n}} over appointment days first_day..last_day (UTC, ISO dates):
    ONE Query (a few pages at most: FIGURE_SHARDS items per procedure and day)."""
    totals: dict = {}
    items = query_all(SiteFigures, f"figures#{site_id}", SiteFigures.sk.between(first_day, f"{last_day}#~"))
    for item in items:
        procedure_id = item.sk.split("#")[1]
        figures = totals.setdefault(procedure_id, {})
        for name in FIGURE_NAMES:
            figures[name] = figures.get(name, 0) + int(getattr(item, name) or 0)
    return totals


guard_public_functions(globals())
