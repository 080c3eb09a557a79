"""R9 signal counters: counted in the transactions that cause them, and the days staff read."""
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from zlib import crc32

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.platform import config
from chalicelib.rules import records
from chalicelib.storage import values
from chalicelib.storage.calls import guard_public_functions, query_all, update
from chalicelib.storage.models import SignalCount
from chalicelib.storage.transaction import Transaction

# A day's signal items are spread over this many partitions by their subject: every hold and
# draw request updates one, and a single partition takes at most 1,000 write units a second.
SIGNAL_SHARDS = 8


def _signal_item(now: float, at: str, **attributes: Any) -> SignalCount:
    """The day's counter item `at` ("<kind>#<subject>"), in its shard of the day's partitions."""
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    return SignalCount(f"signals#{day}#{crc32(at.encode()) % SIGNAL_SHARDS}", at, **attributes)


def _signal_purge_at(now: float) -> int:
    return int(now + config.current().personal_data_retention_days * 86400)


def _counter(now: float, kind: str, subject: str, actions: Sequence[Action]) -> tuple[SignalCount, list[Action], Condition]:
    """The day's counter of `kind` and `subject`: its item, its actions and its condition."""
    item = _signal_item(now, f"{kind}#{subject}")
    actions = [SignalCount.kind.set(kind), SignalCount.purge_at.set(_signal_purge_at(now)), *actions]
    # A counter of the day: created or incremented, whichever comes first.
    return item, actions, SignalCount.entity_id.does_not_exist() | SignalCount.entity_id.exists()


def _counter_of(signal: records.NewSignal) -> tuple[SignalCount, list[Action], Condition]:
    """A records.NewSignal's counter: a partner's bookings and cancellations; else one more hold
    (or draw request), with the identity behind it if given."""
    if signal.booked or signal.cancelled or signal.lapsed:
        actions = [SignalCount.booked.add(signal.booked)] if signal.booked else []
        if signal.cancelled:
            actions.append(SignalCount.cancelled.add(signal.cancelled))
        if signal.lapsed:
            actions.append(SignalCount.lapsed.add(signal.lapsed))
        return _counter(signal.at, signal.kind, signal.subject, actions)
    counter = SignalCount.requests if signal.request else SignalCount.n
    if signal.identity is None:
        return _counter(signal.at, signal.kind, signal.subject, [counter.add(1)])
    # A counter of identities is one item per hour: a carrier-grade NAT may put thousands of
    # people behind one IP, and an item must stay far below DynamoDB's 400 KB or every hold from
    # that IP would fail. Holds and draw requests share it (one set of identities), each with
    # its own count.
    hour = int(signal.at // 3600) % 24
    return _counter(signal.at, signal.kind, f"{signal.subject}#{hour:02d}",
                    [counter.add(1), SignalCount.identities.add({signal.identity})])


def add_signals(tx: Transaction, signals: Iterable[records.NewSignal]) -> None:
    """Each records.NewSignal counted in the transaction `tx` of what caused it; one with details
    (a check-in mismatch, a false urgency) is an item of its own, written once."""
    for signal in signals:
        label = f"signal:{signal.kind}"
        if signal.details is not None:
            item = _signal_item(signal.at, f"{signal.kind}#{signal.subject}", kind=signal.kind, n=1, details=signal.details,
                                purge_at=_signal_purge_at(signal.at))
            tx.put(label, item, SignalCount.entity_id.does_not_exist())
        else:
            item, actions, condition = _counter_of(signal)
            tx.update(label, item, actions, condition)


def record_cooldown_refusal(now: float, site_id: str) -> None:
    """A hold refused by the cooldown: counted after the refusal (its transaction was cancelled)."""
    update(*_counter(now, "cooldown", site_id, [SignalCount.n.add(1)]))


def signals_of_day(day: str) -> list[records.Signal]:
    """The day's signal items: one Query per shard."""
    return [values.read(records.Signal, item) for shard in range(SIGNAL_SHARDS) for item in query_all(SignalCount, f"signals#{day}#{shard}")]


guard_public_functions(globals())
