"""The registry port (SPEC R10): who the foreign nationals' registry knows (docs/identity-registry.md)."""
from typing import Protocol

from chalicelib.rules.registry_entries import RegistryEntry


class RegistryUnavailable(Exception):
    """The registry could not answer (down, slow, erroring, or its breaker open)."""


class Registry(Protocol):
    def find(self, document_type: str, number: str, birth_date: str) -> RegistryEntry | None: ...
