"""Use cases, one module per capability: they call the rules and storage, and never import HTTP."""
from typing import Any, TypedDict

View = dict[str, Any]  # what a use case answers: the JSON body its route sends as it is


class PartnerContext(TypedDict):
    """The partner the authorizer let through (partner_keys.quota_of), as the use cases take it."""
    partner_id: str
    daily_quota: int
    sites: frozenset[str]  # R11: the sites its key may act on
