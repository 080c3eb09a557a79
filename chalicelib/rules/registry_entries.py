"""The foreign nationals' registry as the rules see it (SPEC R10): an entry, and when a person matches it."""
import unicodedata
from dataclasses import dataclass
from datetime import date

from chalicelib.rules.errors import InvalidValue
from chalicelib.rules.identity_keys import Document, normalise_document


@dataclass(frozen=True)
class RegistryEntry:
    """One person as the registry knows them: a document, a birth date, a family name and the
    contact the one-time code goes to (never an address typed in a form)."""
    document_type: str
    number: str
    birth_date: str  # YYYY-MM-DD
    family_name: str
    email: str


def name_key(name: str) -> str:
    """A family name compared as people write it: case, accents, spaces, hyphens and apostrophes
    do not count ("N'Guyen-Thi" is "nguyen thi" is "NGUYEN THI")."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = (ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in "".join(letters).casefold() if ch.isalnum())


def entry_document(entry: RegistryEntry) -> Document | None:
    """The entry's document as identity keys normalise it, or None if the registry holds a number
    no applicant could type (such an entry matches nobody)."""
    try:
        return Document(entry.document_type, normalise_document(entry.document_type, entry.number))
    except InvalidValue:
        return None


def matches(entry: RegistryEntry | None, document: Document, birth_date: date, family_name: str) -> bool:
    """R10: the applicant is this registry entry: the same document (normalised), birth date and
    family name (compared by name_key)."""
    if entry is None:
        return False
    return (entry_document(entry) == document and entry.birth_date == birth_date.isoformat()
            and bool(name_key(family_name)) and name_key(entry.family_name) == name_key(family_name))


def masked(email: str) -> str:
    """Where a code went, as shown once the code was right: the first letter and the domain
    (a***@example.org)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
