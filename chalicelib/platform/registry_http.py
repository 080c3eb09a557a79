"""The registry port over HTTP: the prefecture's service (docs/identity-registry.md).

Standard library only (urllib): nothing more to import on a cold start. One POST per look-up,
a timeout per attempt, bounded retries with full jitter, and a circuit breaker per process; no
personal data in any log line. Every failure is a RegistryUnavailable.
"""
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from chalicelib.platform import config, keys
from chalicelib.platform.observability import logger, metric
from chalicelib.platform.registry import RegistryUnavailable
from chalicelib.rules.registry_entries import RegistryEntry

_FIELDS = ("document_type", "number", "birth_date", "family_name", "email")
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_BACKOFF_BASE_SECONDS = 0.05
_MAX_ANSWER_BYTES = 64 * 1024


class _Failed(Exception):
    """One attempt that did not answer: `kind` (timeout, refused, status, malformed) is all a log says."""

    def __init__(self, kind: str, status: int | None = None, retry: bool = True) -> None:
        super().__init__(kind)
        self.kind, self.status, self.retry = kind, status, retry


class Breaker:
    """Opens after `failures` look-ups in a row failed; after `open_seconds` it lets one trial
    through (half-open): its success closes it, its failure opens it again."""

    def __init__(self, failures: int, open_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures, self.open_seconds, self.clock = failures, open_seconds, clock
        self._lock = threading.Lock()
        self._failed_in_a_row, self._trial = 0, False
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self._opened_at >= self.open_seconds else "open"

    def allow(self) -> bool:
        """May a look-up go out now? In half-open, only one at a time (the trial)."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._trial:
                self._trial = True
                return True
            return False

    def succeeded(self) -> None:
        with self._lock:
            self._failed_in_a_row, self._opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        with self._lock:
            self._failed_in_a_row += 1
            if self._trial or self._failed_in_a_row >= self.failures:
                self._opened_at, self._trial = self.clock(), False


class HttpRegistry:
    """Registry (chalicelib/platform/registry.py) answered by the prefecture's service at `url`."""

    def __init__(self, url: str, key: str | None = None, timeout_seconds: float = 2.0, attempts: int = 3,
                 breaker: Breaker | None = None, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.url, self.key, self.timeout_seconds, self.attempts = url, key, timeout_seconds, max(1, attempts)
        self.breaker = breaker or Breaker(5, 30)
        self.sleep, self.rng = sleep, rng or random.SystemRandom()

    def find(self, document_type: str, number: str, birth_date: str) -> RegistryEntry | None:
        """The registry's entry for this document and birth date, None if it has none."""
        if not self.breaker.allow():
            metric("RegistryBreakerOpen")
            raise RegistryUnavailable("the registry's breaker is open")
        body = json.dumps({"document_type": document_type, "number": number, "birth_date": birth_date}).encode()
        started = time.monotonic()
        for attempt in range(1, self.attempts + 1):
            try:
                found = self._ask(body)
            except _Failed as failed:
                self._log("registry attempt failed", started, attempt, failed.kind, failed.status)
                if not failed.retry or attempt == self.attempts:
                    self.breaker.failed()
                    metric("RegistryUnavailable")
                    raise RegistryUnavailable(failed.kind) from None
                self.sleep(self.rng.uniform(0, _BACKOFF_BASE_SECONDS * 2 ** attempt))  # full jitter
                continue
            self.breaker.succeeded()
            self._log("registry answered", started, attempt, "found" if found else "not_found", None)
            return found
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _ask(self, body: bytes) -> RegistryEntry | None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310 -- the configured https URL
                return _entry(json.loads(answer.read(_MAX_ANSWER_BYTES + 1)[:_MAX_ANSWER_BYTES] or b"null"))
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == 404:
                return None
            raise _Failed("status", error.code, retry=error.code in _RETRIED_STATUSES) from None
        except TimeoutError:
            raise _Failed("timeout") from None
        except urllib.error.URLError as error:
            raise _Failed("timeout" if isinstance(error.reason, TimeoutError) else "unreachable") from None
        except (ValueError, KeyError, TypeError):
            raise _Failed("malformed", retry=False) from None
        except OSError:
            raise _Failed("unreachable") from None

    def _log(self, message: str, started: float, attempt: int, outcome: str, status: int | None) -> None:
        # Never the document, its number, the birth date, the name or the e-mail: what happened only.
        logger().info(message, extra={"registry_outcome": outcome, "registry_status": status, "registry_attempt": attempt,
                                      "registry_ms": round((time.monotonic() - started) * 1000)})


def _entry(answer: Any) -> RegistryEntry | None:
    """The answer's entry: {"entry": {...}} or {"entry": null} (docs/identity-registry.md)."""
    entry = answer["entry"]
    if entry is None:
        return None
    return RegistryEntry(**{name: _text(entry[name]) for name in _FIELDS})


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a registry field is not a string")
    return value


_shared: tuple[tuple[Any, ...], HttpRegistry] | None = None
_shared_lock = threading.Lock()


def from_environment() -> HttpRegistry | None:
    """The HTTP registry when IDENTITY_REGISTRY_URL is set, else None (the file adapter's turn):
    one per process and configuration, so its breaker sees every look-up of the process."""
    global _shared
    settings = config.current().registry
    if settings.url is None:
        return None
    shape = (settings.url, settings.timeout_seconds, settings.attempts, settings.breaker_failures, settings.breaker_seconds)
    with _shared_lock:
        if _shared is None or _shared[0] != shape:
            _shared = (shape, HttpRegistry(settings.url, None, settings.timeout_seconds, settings.attempts,
                                           Breaker(settings.breaker_failures, settings.breaker_seconds)))
        registry = _shared[1]
    registry.key = keys.registry_key()  # rotated in SSM: a new process, or IDENTITY_REGISTRY_KEY, takes it
    return registry
