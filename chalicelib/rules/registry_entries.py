"""The foreign nationals' registry's entries, as fairslot reads them (SPEC R10)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class RegistryEntry:
    document_type: str
    number: str
    birth_date: str
    family_name: str
    email: str
