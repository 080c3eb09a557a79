"""Sites and policies: the catalog staff configure and everyone reads."""
from chalicelib.errors import Conflict
from chalicelib.storage.calls import get, guard_public_functions, query_all
from chalicelib.storage.models import Policy, Site
from chalicelib.storage.transaction import Transaction


def create_site_if_new(site_id, name, address, timezone, procedures, also=(), name_en=None):
    """The site, only if its id is new, with its audit entry (`also`) in one transaction."""
    site = Site(sk=site_id, name=name, name_en=name_en, address=address, timezone=timezone, procedures=procedures)
    tx = Transaction()
    tx.put("site", site, Site.sk.does_not_exist())
    tx.add_all(also)
    if tx.commit():
        raise Conflict(f"Site '{site_id}' already exists.", code="site_exists")
    return site


def list_sites():
    return query_all(Site.query, "site")


def get_site(site_id):
    return get(Site, "site", site_id)


def get_policy(site_id, procedure_id):
    """The stored policy item (values and updated_at), or None while the defaults apply."""
    return get(Policy, f"policy#{site_id}", procedure_id)


def replace_policy_if_unchanged(site_id, procedure_id, values, now, read_at, also=()):
    """The policy replaced whole, with its audit entry (`also`), in one transaction, only if it is
    still the one read (updated_at == read_at; None: none was stored): the entry's old values are
    then exactly those replaced, and of two staff saving at once the second is told (409)."""
    policy = Policy(pk=f"policy#{site_id}", sk=procedure_id, values=values, updated_at=now)
    tx = Transaction()
    tx.put("policy", policy, Policy.pk.does_not_exist() if read_at is None else Policy.updated_at == read_at)
    tx.add_all(also)
    if tx.commit():
        raise Conflict("The policy changed meanwhile; read it again and retry.", code="state_changed")


guard_public_functions(globals())
