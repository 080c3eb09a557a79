"""Typed errors: raised by any layer, turned into the HTTP error envelope once, in app.py.

An error carries a code; its HTTP status is the code's in rules/codes.py, never the class's. The
classes below say what kind of failure it is, for the except clauses that tell them apart.
"""
import re
from collections.abc import Callable
from typing import Any

from chalicelib.rules.codes import CODES


class FairslotError(Exception):
    code = "bad_request"  # the code of an error of this class raised without one

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None, retry_after: int | None = None, code: str | None = None) -> None:
        if code:
            self.code = code
        self.message = message or CODES[self.code].en
        super().__init__(self.message)
        self.details = details or {}
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return CODES[self.code].status


class MalformedRequest(FairslotError):
    code = "malformed_request"


class Refused(FairslotError):
    """A refusal: rules/refusals.py chooses it and its code; the subclass says which kind."""


class Unauthorized(Refused):
    pass


class Forbidden(Refused):
    pass


class NotFound(Refused):
    pass


class Conflict(Refused):
    pass


class Expired(Refused):
    pass


class TooManyRequests(Refused):
    """Cooldown (R4) or rate limit (R8); retry_after is the caller's own wait, never a slot's."""


class Unprocessable(Refused):
    """A value refused that is not a field's form (a one-time code that is not the one sent)."""


class Unavailable(Refused):
    """Another service could not answer (the identity registry); retry_after says when to try again."""


# A refusal's kind follows its code's status.
REFUSED_BY_STATUS = {401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 410: Expired, 422: Unprocessable,
                     429: TooManyRequests, 503: Unavailable}


class InvalidField(FairslotError):
    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, details={"field": field})


class InvalidValue(FairslotError):
    """A value a rule refuses, named by its concept (document_number, birth_date, last_day...)
    rather than by where a body or query string carries it; the message names values as {concept}.
    The route that parsed the request answers it as InvalidField on its own field names
    (inputs.invalid_field with the route's mapping); unmapped, the concept stands for the field."""

    code = "invalid_field"

    def __init__(self, concept: str, message: str) -> None:
        self.concept, self.template = concept, message
        super().__init__(self.named(lambda name: name), details={"field": concept})

    def named(self, field_of: Callable[[str], str]) -> str:
        """The message with each {concept} it mentions replaced by field_of(concept)."""
        return re.sub(r"\{(\w+)\}", lambda found: field_of(found.group(1)), self.template)


class StorageUnavailable(FairslotError):
    code = "storage_unavailable"

    def __init__(self, message: str | None = None, retry_after: int = 2) -> None:
        super().__init__(message, retry_after=retry_after)
