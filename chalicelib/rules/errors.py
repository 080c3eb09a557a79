"""Typed errors: raised by any layer, turned into the HTTP error envelope once, in app.py."""
import re


class FairslotError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message, details=None, retry_after=None, code=None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after
        if code:
            self.code = code


class MalformedRequest(FairslotError):
    status, code = 400, "malformed_request"


class Unauthorized(FairslotError):
    status, code = 401, "unauthorized"


class Forbidden(FairslotError):
    status, code = 403, "forbidden"


class NotFound(FairslotError):
    status, code = 404, "not_found"


class Conflict(FairslotError):
    status, code = 409, "conflict"


class Expired(FairslotError):
    status, code = 410, "expired"


class InvalidField(FairslotError):
    status, code = 422, "invalid_field"

    def __init__(self, field, message):
        super().__init__(message, details={"field": field})


class InvalidValue(FairslotError):
    """A value a rule refuses, named by its concept (document_number, birth_date, last_day...)
    rather than by where a body or query string carries it; the message names values as {concept}.
    The route that parsed the request answers it as InvalidField on its own field names
    (inputs.invalid_field with the route's mapping); unmapped, the concept stands for the field."""

    status, code = 422, "invalid_field"

    def __init__(self, concept, message):
        self.concept, self.template = concept, message
        super().__init__(self.named(lambda name: name), details={"field": concept})

    def named(self, field_of):
        """The message with each {concept} it mentions replaced by field_of(concept)."""
        return re.sub(r"\{(\w+)\}", lambda found: field_of(found.group(1)), self.template)


class TooManyRequests(FairslotError):
    """Cooldown (R4) or rate limit (R8); retry_after is the caller's own wait, never a slot's."""

    status, code = 429, "too_many_requests"


class StorageUnavailable(FairslotError):
    status, code = 503, "storage_unavailable"

    def __init__(self, message="Storage is busy, please retry shortly.", retry_after=2):
        super().__init__(message, retry_after=retry_after)
