"""What clients submit, as the HTTP contract parses it once and the use cases take it: frozen values, standard library only.

chalicelib/http/contract.py declares each body's fields and bounds and builds these from a checked
body; what is here is already valid in form (a document number normalised, an e-mail address in
its canonical form). The rules across fields and against the domain are chalicelib/http/inputs.py's
and the use cases'.
"""
from dataclasses import dataclass
from datetime import date, time

from chalicelib.rules import records
from chalicelib.rules.identity_keys import Document


@dataclass(frozen=True)
class Applicant:
    """Who a hold or a draw request is for (SPEC R1); the document number only ever feeds the identity key."""
    document: Document
    birth_date: date
    family_name: str
    given_names: str
    email: str  # email_address.canonical's form
    phone: str | None = None

    def kept(self) -> records.Applicant:
        """What a hold, booking or request keeps of the applicant (no document number)."""
        return records.Applicant(document_type=self.document.type, family_name=self.family_name,
                                 given_names=self.given_names, email=self.email, phone=self.phone)


@dataclass(frozen=True)
class Hold:
    """POST /holds, POST /partner/holds."""
    slot_id: str
    applicant: Applicant
    identity_token: str | None = None  # R10: where the procedure checks identities


@dataclass(frozen=True)
class Confirm:
    """POST /bookings, POST /partner/bookings."""
    hold_id: str
    hold_token: str


@dataclass(frozen=True)
class DrawRequest:
    """POST /requests, POST /partner/requests: who, where, which procedure, which days, the permit's expiry."""
    site_id: str
    procedure_id: str
    applicant: Applicant
    first_day: date  # `from`
    last_day: date  # `to`
    permit_expires_on: date | None = None
    identity_token: str | None = None  # R10: where the procedure checks identities


@dataclass(frozen=True)
class Lookup:
    """POST /bookings/lookup: the document, birth date and e-mail a booking was made with."""
    document: Document
    birth_date: date
    email: str  # email_address.canonical's form, as stored at booking time
    identity_token: str | None = None  # R10: the identity it proved is the one looked up


@dataclass(frozen=True)
class Verification:
    """POST /verifications: who asks for a one-time code, for which site and procedure."""
    site_id: str
    procedure_id: str
    applicant: Applicant


@dataclass(frozen=True)
class Code:
    """POST /verifications/{verification_id}: the code received."""
    code: str


@dataclass(frozen=True)
class CheckIn:
    """POST /staff/bookings/{id}/check-in: the document shown at the counter, the birth date, and
    the expiry read on the permit (required by staff.check_in for a booking won as urgent)."""
    document: Document
    birth_date: date
    permit_expires_on: date | None = None


@dataclass(frozen=True)
class IdentityRelease:
    """POST /staff/sites/{id}/identities/release: the person at the counter (document, birth
    date), the procedure to free them for, and why (kept in the audit trail)."""
    procedure_id: str
    document: Document
    birth_date: date
    reason: str
    email: str | None = None  # the mailbox that proved them, where the procedure's identity_check is contact


@dataclass(frozen=True)
class Procedure:
    procedure_id: str
    name: str
    name_en: str | None = None

    def as_dict(self) -> dict:
        """The procedure as a site keeps it (records.Site.procedures)."""
        return {"procedure_id": self.procedure_id, "name": self.name, **({"name_en": self.name_en} if self.name_en else {})}


@dataclass(frozen=True)
class Site:
    """POST /staff/sites: a site and its procedures."""
    name: str
    address: str
    timezone: str
    procedures: tuple[Procedure, ...]
    site_id: str | None = None
    name_en: str | None = None


@dataclass(frozen=True)
class Schedule:
    """POST /staff/sites/{site_id}/schedules: an opening schedule to turn into slots."""
    procedure_id: str
    first_day: date  # `from`
    last_day: date  # `to`
    opens: time
    closes: time
    slot_minutes: int
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # 0 is Monday
    counters: int = 1
    publish: str = "random_window"  # R5: random by default; "now" only when asked for


@dataclass(frozen=True)
class NewPartner:
    """POST /staff/partners."""
    name: str
    daily_quota: int
    sites: tuple[str, ...]  # R11: the sites its key may act on
