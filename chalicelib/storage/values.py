"""Between PynamoDB items and chalicelib.rules.records: reads become frozen values, values become
items. Only here and in the aggregates do keys and index partitions appear."""
from dataclasses import fields
from typing import Any

from chalicelib.rules import records
from chalicelib.storage import models

_APPLICANT_FIELDS = tuple(f.name for f in fields(records.Applicant))


def _applicant(value):
    if value is None or isinstance(value, records.Applicant):
        return value
    found: dict[str, Any] = {name: getattr(value, name, None) for name in _APPLICANT_FIELDS}
    return records.Applicant(**found)


def read(cls, item, **derived):
    """The record of `cls` that `item` holds (None for None): same attribute names, the
    applicant as a records.Applicant; `derived` gives what the item keeps under storage's names."""
    if item is None:
        return None
    values = {f.name: getattr(item, f.name, None) for f in fields(cls) if f.name not in derived}
    if "applicant" in values:
        values["applicant"] = _applicant(values["applicant"])
    return cls(**values, **derived)


def item(model_cls, record, **keys):
    """A new item of `model_cls` from a record's fields that the model has, with `keys` (the
    key and index attributes storage derives)."""
    attributes = model_cls.get_attributes()
    values = {f.name: getattr(record, f.name) for f in fields(record) if f.name in attributes}
    if "applicant" in values:
        values["applicant"] = models.Applicant(**{name: getattr(values["applicant"], name) for name in _APPLICANT_FIELDS})
    return model_cls(**values, **keys)


# --- one per aggregate's reads ------------------------------------------------------------------

def slot(found):
    return read(records.Slot, found)


def hold(found):
    return read(records.Hold, found)


def booking(found):
    return None if found is None else read(records.Booking, found, day=found.day_pk.partition("#")[2])


def request(found):
    return read(records.Request, found)


def draw(found):
    if found is None:
        return None
    site_id, _, procedure_id = found.draw_pk.partition("#")
    return read(records.Draw, found, site_id=site_id, procedure_id=procedure_id)


def site(found):
    return None if found is None else read(records.Site, found, site_id=found.sk)


def partner(found):
    return None if found is None else read(records.Partner, found, partner_id=found.sk)
