"""Which applicant e-mail addresses fairslot accepts: those SES can send to (pure, no I/O).

An address SES refuses for its form would be a poison record on the bookings stream, so it is
refused at input instead (422 naming the field). Accepted: a dot-atom local part in 7-bit ASCII
(SES has no SMTPUTF8), one "@", and a domain of at least two labels that IDNA encodes. Refused:
control characters, spaces, commas, colons, semicolons, angle brackets, double quotes and
backticks (quoted local parts, display names, lists of addresses), and anything over the RFC 5321
lengths. The apostrophe stays: it is ordinary in French addresses (d'Artagnan) and SES sends to it.
"""
import string

MAX_ADDRESS = 254  # RFC 5321 path limit, minus the angle brackets
MAX_LOCAL = 64
MAX_DOMAIN = 253
MAX_LABEL = 63
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_{|}~.")
_LABEL_CHARS = frozenset(string.ascii_lowercase + string.digits + "-")


def _one_of(chars: set[str] | frozenset[str]) -> str:
    """A character class of `chars` (letters and digits as ranges) that Python and JavaScript read alike."""
    others = sorted(set(chars) - set(string.ascii_letters + string.digits))
    return "[A-Za-z0-9" + "".join("\\" + c if c in "\\]^-[" else c for c in others) + "]"


_ATOM = _one_of(_LOCAL_CHARS - {"."}) + "+"
_LABEL = f"[A-Za-z0-9](?:[A-Za-z0-9-]{{0,{MAX_LABEL - 2}}}[A-Za-z0-9])?"
# `canonical` as one regular expression, for clients that check before they send (the web app's
# form, through web/src/contract.js): it accepts exactly the ASCII addresses canonical accepts
# (tests/unit/test_email_address.py), and any domain with a non-ASCII character, whose IDNA
# encoding only the server does. The domain's length needs no check of its own: the address's
# bounds it (MAX_ADDRESS - 2 < MAX_DOMAIN).
PATTERN = (f"^(?=[\\s\\S]{{1,{MAX_ADDRESS}}}$)(?=[^@]{{1,{MAX_LOCAL}}}@){_ATOM}(?:\\.{_ATOM})*@"
           f"(?:(?:{_LABEL}\\.)+(?![0-9]+$){_LABEL}|(?=[^@]*[^\\x00-\\x7f])[^@\\x00-\\x20\\x7f]+)$")


def canonical(address: object) -> str:
    """The address as fairslot stores and sends it (lower case, domain in its ASCII IDNA form),
    or ValueError saying what is wrong."""
    if not isinstance(address, str) or not address:
        raise ValueError("is required")
    if len(address) > MAX_ADDRESS:
        raise ValueError(f"is longer than {MAX_ADDRESS} characters")
    if address.count("@") != 1:
        raise ValueError("must contain exactly one @")
    local, domain = address.split("@")
    _check_local(local)
    ascii_domain = _ascii_domain(domain)
    result = f"{local}@{ascii_domain}".lower()
    if len(result) > MAX_ADDRESS:
        raise ValueError(f"is longer than {MAX_ADDRESS} characters")
    return result


def _check_local(local: str) -> None:
    if not 1 <= len(local) <= MAX_LOCAL:
        raise ValueError(f"must have 1 to {MAX_LOCAL} characters before the @")
    if not set(local) <= _LOCAL_CHARS:
        raise ValueError("may only use letters, digits and !#$%&'*+-/=?^_{|}~. before the @")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError("may not start or end with a dot, or have two dots in a row, before the @")


def _ascii_domain(domain: str) -> str:
    ascii_domain = _idna(domain)
    if len(ascii_domain) > MAX_DOMAIN:
        raise ValueError(f"has a domain longer than {MAX_DOMAIN} characters")
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise ValueError("must have a dotted domain (example.org)")
    for label in labels:
        _check_label(label)
    if labels[-1].isdigit():
        raise ValueError("must end with a top-level domain, not a number")
    return ascii_domain


def _idna(domain: str) -> str:
    """The domain in its ASCII IDNA form, lower case (the form SES sends to)."""
    if not domain or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in domain):
        raise ValueError("must have a domain after the @")
    try:
        return domain.encode("idna").decode("ascii").lower()
    except (UnicodeError, ValueError):
        raise ValueError("has a domain that cannot be encoded (IDNA)") from None


def _check_label(label: str) -> None:
    if not 1 <= len(label) <= MAX_LABEL or not set(label) <= _LABEL_CHARS:
        raise ValueError("has a domain label that is empty, too long, or not letters, digits and hyphens")
    if label.startswith("-") or label.endswith("-"):
        raise ValueError("has a domain label starting or ending with a hyphen")
