"""Identity (SPEC R1): one document, one identity however it is typed; identity keys and slot tags."""
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from chalicelib.rules.errors import InvalidValue

DOCUMENT_TYPES = ("agdref", "passport", "visa")


class _DocumentPolicy(Protocol):
    """What check_accepted_document reads of a policies.Policy (which imports this module)."""
    @property
    def accepted_documents(self) -> tuple[str, ...]: ...


# Checked after normalisation, on ASCII only: `\d` and `[A-Z]` would let other scripts through.
_DOC_PATTERNS = {
    "agdref": re.compile(r"[0-9]{10}", re.ASCII),
    "passport": re.compile(r"[A-Z0-9]{6,12}", re.ASCII),
    "visa": re.compile(r"[A-Z0-9]{6,16}", re.ASCII),
}


# What people put between the characters of a number and what copy-paste adds: every Unicode
# space (Z*) and dash (Pd), invisible format characters (Cf: zero-width space, soft hyphen, BOM,
# direction marks), and the dots, slashes and minus signs that are not in those categories.
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Pd", "Cf"})


_SEPARATORS = frozenset(".\u00b7\u2027\u30fb\u3002/\\\u2044\u2215\u2212_")


def _document_characters(number: str) -> str:
    """NFKC, every decimal digit of any script as its ASCII digit, separators dropped."""
    out = []
    for ch in unicodedata.normalize("NFKC", number):
        if ch in _SEPARATORS or ch.isspace() or unicodedata.category(ch) in _SEPARATOR_CATEGORIES:
            continue
        digit = unicodedata.decimal(ch, None)
        out.append(str(digit) if digit is not None else ch)
    return "".join(out)


def normalise_document(doc_type: object, number: object) -> str:
    """The canonical document number, so that one document is one identity however it is typed:
    Unicode NFKC (fullwidth letters and digits become ASCII), any decimal digit (Arabic-Indic,
    Devanagari...) as its ASCII digit, separators dropped, upper case; then checked per type.
    Whatever is still not ASCII is refused, before upper-casing (which would turn 'ß' into 'SS'
    and a dotless 'ı' into 'I': two spellings of one number)."""
    if not isinstance(doc_type, str) or doc_type not in DOCUMENT_TYPES:
        raise InvalidValue("document_type", "Document type must be agdref, passport or visa.")
    if not isinstance(number, str) or len(number) > 200:
        raise InvalidValue("document_number", "Document number must be a string of at most 200 characters.")
    canonical = _document_characters(number)
    if not canonical.isascii():
        raise InvalidValue("document_number",
                           f"The {doc_type} number contains characters outside its format (letters A-Z and digits only).")
    canonical = canonical.upper()
    if not _DOC_PATTERNS[doc_type].fullmatch(canonical):
        hint = "an AGDREF number has 10 digits" if doc_type == "agdref" else "letters and digits only"
        raise InvalidValue("document_number", f"Invalid {doc_type} number ({hint}).")
    return canonical


def check_accepted_document(doc_type: str, policy: _DocumentPolicy) -> None:
    """R1: a procedure accepts only the document types its policy lists (renewals: the AGDREF
    number every renewing applicant has, so one person cannot enter once per document)."""
    if doc_type not in policy.accepted_documents:
        raise InvalidValue("document_type",
                           "This procedure accepts only these documents: " + ", ".join(policy.accepted_documents) + ".")


@dataclass(frozen=True)
class Document:
    """An identity document: its type, and its number as normalise_document returns it."""
    type: str
    number: str

    @classmethod
    def typed(cls, type: str, number: str) -> "Document":
        """The document as a client typed it, normalised (InvalidValue if its type or number is refused)."""
        return cls(type, normalise_document(type, number))


def identity_key(secret: str, doc_type: str, number: str, birth_date: date) -> str:
    """R1: the identity key of a document as typed (normalised first) and a birth date."""
    return identity_key_of(secret, Document.typed(doc_type, number), birth_date)


def identity_key_of(secret: str, document: Document, birth_date: date) -> str:
    """R1: the identity key, an HMAC of the normalised document and birth date; the raw number
    is never stored. Passports and visas are one identity space (a visa sits in a passport)."""
    kind = "agdref" if document.type == "agdref" else "travel"
    message = f"{kind}|{document.number}|{birth_date.isoformat()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_birth_date(value: object, today: date) -> date:
    if not isinstance(value, date) or value >= today or value < date(today.year - 130, 1, 1):
        raise InvalidValue("birth_date", "Birth date must be a past date (YYYY-MM-DD).")
    return value


def actor_pseudonym(identity_key: str, site_id: str) -> str:
    """How staff see an applicant in a history: a short name, the same for one person at one site
    (so an agent can tell that the same person held, released and held again), unlinkable across
    sites and never the identity key, which would let anyone who sees it follow that person
    through every table. 48 bits: no two applicants of one site share it in practice."""
    return "applicant:" + hashlib.sha256(f"actor|{site_id}|{identity_key}".encode()).hexdigest()[:12]


def slot_tag(identity_key: str, slot_id: str) -> str:
    """What a slot keeps of who held or freed it (R6: a draw never gives it back to them): a hash
    of the identity key and the slot, not the key. Slots have no TTL; a tag names nobody and
    links no two slots, yet a draw recomputes it for each entrant and compares."""
    return hashlib.sha256(f"slot-tag|{identity_key}|{slot_id}".encode()).hexdigest()[:32]


def entrant_tag(identity_key: str, site_id: str, procedure_id: str, draw_id: str) -> str:
    """An entrant's name in one draw (R6): HMAC-SHA256 keyed by the identity key over the draw,
    128 bits. A ticket is drawn for it, so withdrawing and refiling (a new request id) changes
    nothing; it names nobody and links no two draws, and the identity key never leaves storage."""
    return hmac.new(identity_key.encode(), f"entrant|{site_id}#{procedure_id}|{draw_id}".encode(), hashlib.sha256).hexdigest()[:32]
