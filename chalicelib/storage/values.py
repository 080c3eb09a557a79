"""Between PynamoDB items and chalicelib.rules.records: reads become frozen values, values become
items. Only here and in the aggregates do keys and index partitions appear."""
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pynamodb.models import Model

from chalicelib.rules import records
from chalicelib.storage import models
from chalicelib.storage.calls import M

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")  # the record a read returns

_APPLICANT_FIELDS = tuple(f.name for f in fields(records.Applicant))


def _applicant(value: Any) -> records.Applicant | None:
    if value is None or isinstance(value, records.Applicant):
        return value
    found: dict[str, Any] = {name: getattr(value, name, None) for name in _APPLICANT_FIELDS}
    return records.Applicant(**found)


@overload
def read(cls: type[R], item: None, **derived: Any) -> None: ...
@overload
def read(cls: type[R], item: Model, **derived: Any) -> R: ...
def read(cls: type[R], item: Model | None, **derived: Any) -> R | None:
    """The record of `cls` that `item` holds (None for None): same attribute names, the
    applicant as a records.Applicant; `derived` gives what the item keeps under storage's names."""
    if item is None:
        return None
    values = {f.name: getattr(item, f.name, None) for f in fields(cls) if f.name not in derived}
    if "applicant" in values:
        values["applicant"] = _applicant(values["applicant"])
    return cls(**values, **derived)


def item(model_cls: type[M], record: "DataclassInstance", **keys: Any) -> M:
    """A new item of `model_cls` from a record's fields that the model has, with `keys` (the
    key and index attributes storage derives, or a field as storage keeps it)."""
    attributes = model_cls.get_attributes()
    values = {f.name: getattr(record, f.name) for f in fields(record) if f.name in attributes and f.name not in keys}
    if "applicant" in values:
        values["applicant"] = models.Applicant(**{name: getattr(values["applicant"], name) for name in _APPLICANT_FIELDS})
    return model_cls(**values, **keys)


# --- one per aggregate's reads ------------------------------------------------------------------

@overload
def slot(found: models.Slot) -> records.Slot: ...
@overload
def slot(found: None) -> None: ...
def slot(found: models.Slot | None) -> records.Slot | None:
    return read(records.Slot, found)


@overload
def hold(found: models.Hold) -> records.Hold: ...
@overload
def hold(found: None) -> None: ...
def hold(found: models.Hold | None) -> records.Hold | None:
    return read(records.Hold, found)


@overload
def booking(found: models.Booking) -> records.Booking: ...
@overload
def booking(found: None) -> None: ...
def booking(found: models.Booking | None) -> records.Booking | None:
    return None if found is None else read(records.Booking, found, day=found.day_pk.partition("#")[2])


@overload
def request(found: models.Request) -> records.Request: ...
@overload
def request(found: None) -> None: ...
def request(found: models.Request | None) -> records.Request | None:
    return read(records.Request, found)


@overload
def draw(found: models.Draw) -> records.Draw: ...
@overload
def draw(found: None) -> None: ...
def draw(found: models.Draw | None) -> records.Draw | None:
    if found is None:
        return None
    site_id, _, procedure_id = found.draw_pk.partition("#")
    return read(records.Draw, found, site_id=site_id, procedure_id=procedure_id)


@overload
def site(found: models.Site) -> records.Site: ...
@overload
def site(found: None) -> None: ...
def site(found: models.Site | None) -> records.Site | None:
    return None if found is None else read(records.Site, found, site_id=found.sk)


@overload
def partner(found: models.Partner) -> records.Partner: ...
@overload
def partner(found: None) -> None: ...
def partner(found: models.Partner | None) -> records.Partner | None:
    return None if found is None else read(records.Partner, found, partner_id=found.sk, sites=frozenset(found.sites or ()))
