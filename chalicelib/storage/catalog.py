"""Sites and policies: the catalog staff configure and everyone reads."""
from collections.abc import Iterable
from typing import Any

from chalicelib.rules import records
from chalicelib.rules.records import Outcome
from chalicelib.storage import values
from chalicelib.storage.audit import add_entries
from chalicelib.storage.calls import get, guard_public_functions, query_all
from chalicelib.storage.models import Policy, Site
from chalicelib.storage.transaction import Transaction


def create_site_if_new(site: records.Site, audit: Iterable[records.NewAuditEntry] = ()) -> Outcome:
    """The site (records.Site), only if its id is new, with its audit entry in one transaction.
    Returns what failed."""
    tx = Transaction()
    tx.put("site", values.item(Site, site, sk=site.site_id), Site.sk.does_not_exist())
    add_entries(tx, audit)
    return Outcome.of(tx.commit())


def list_sites() -> list[records.Site]:
    return [values.site(s) for s in query_all(Site, "site")]


def get_site(site_id: str) -> records.Site | None:
    return values.site(get(Site, "site", site_id))


def get_policy(site_id: str, procedure_id: str) -> records.StoredPolicy | None:
    """The stored policy (values and updated_at), or None while the defaults apply."""
    found = get(Policy, f"policy#{site_id}", procedure_id)
    return None if found is None else records.StoredPolicy(values=found.values, updated_at=found.updated_at)


def replace_policy_if_unchanged(site_id: str, procedure_id: str, values: dict[str, Any], now: float, read_at: float | None,
                                audit: Iterable[records.NewAuditEntry] = ()) -> Outcome:
    """The policy replaced whole, with its audit entry, in one transaction, only if it is
    still the one read (updated_at == read_at; None: none was stored): the entry's old values are
    then exactly those replaced, and of two staff saving at once the second is told (409).
    Returns what failed."""
    policy = Policy(pk=f"policy#{site_id}", sk=procedure_id, values=values, updated_at=now)
    tx = Transaction()
    tx.put("policy", policy, Policy.pk.does_not_exist() if read_at is None else Policy.updated_at == read_at)
    add_entries(tx, audit)
    return Outcome.of(tx.commit())


guard_public_functions(globals())
