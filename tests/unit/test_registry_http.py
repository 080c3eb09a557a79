"""The registry over HTTP (docs/identity-registry.md) against a local fake of the prefecture's
service, a threaded http.server: it answers, is slow, errors, is down; the breaker opens and closes."""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.platform import registry_http
from chalicelib.platform.registry import RegistryUnavailable
from chalicelib.platform.registry_http import Breaker, HttpRegistry
from chalicelib.rules.registry_entries import RegistryEntry

KNOWN = {"document_type": "agdref", "number": "1234567890", "birth_date": "1990-01-02", "family_name": "Benali",
         "email": "amina.benali@example.org"}


class Fake:
    """What the fake service does next: "answer", "slow", "error" (503), "forbidden" (403),
    "garbage"; a list is used one item per request, its last repeated."""

    def __init__(self):
        self.modes, self.requests, self.delay = ["answer"], [], 1.0

    def next_mode(self):
        return self.modes.pop(0) if len(self.modes) > 1 else self.modes[0]


@pytest.fixture
def fake():
    state = Fake()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "body": body, "authorization": self.headers.get("Authorization")})
            mode = state.next_mode()
            if mode == "slow":
                time.sleep(state.delay)
            if mode == "error":
                return self._send(503, {"error": "maintenance"})
            if mode == "forbidden":
                return self._send(403, {"error": "bad key"})
            if mode == "garbage":
                return self._send(200, None, raw=b"<html>not json</html>")
            known = all(body.get(k) == KNOWN[k] for k in ("document_type", "number", "birth_date"))
            return self._send(200, {"entry": KNOWN if known else None})

        def _send(self, status, answer, raw=None):
            data = raw if raw is not None else json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/identities/lookup"
    yield state
    server.shutdown()
    server.server_close()


def registry(url, **options):
    pauses = []
    options = {"key": "test-key", "timeout_seconds": 0.3, "attempts": 3, "sleep": pauses.append, **options}
    made = HttpRegistry(url, **options)
    made.pauses = pauses
    return made


def test_a_known_person_is_their_entry_an_unknown_one_is_none(fake):
    found = registry(fake.url).find("agdref", "1234567890", "1990-01-02")
    assert found == RegistryEntry(**KNOWN)
    assert registry(fake.url).find("agdref", "1234567890", "1990-01-03") is None
    sent = fake.requests[0]
    assert sent["body"] == {"document_type": "agdref", "number": "1234567890", "birth_date": "1990-01-02"}
    assert sent["authorization"] == "Bearer test-key" and "1234567890" not in sent["path"]  # never in a URL


def test_a_slow_service_times_out_each_attempt_and_is_unavailable(fake):
    fake.modes, fake.delay = ["slow"], 1.0
    slow = registry(fake.url, timeout_seconds=0.2, attempts=2)
    with pytest.raises(RegistryUnavailable):
        slow.find(**{k: KNOWN[k] for k in ("document_type", "number", "birth_date")})
    assert len(fake.requests) == 2 and len(slow.pauses) == 1


def test_server_errors_are_retried_with_jitter_then_answered(fake):
    fake.modes = ["error", "error", "answer"]
    flaky = registry(fake.url, attempts=3)
    assert flaky.find("agdref", "1234567890", "1990-01-02") == RegistryEntry(**KNOWN)
    assert len(fake.requests) == 3
    assert len(flaky.pauses) == 2 and all(0 <= p <= 0.05 * 2 ** (n + 1) for n, p in enumerate(flaky.pauses))


def test_server_errors_on_every_attempt_are_unavailable_after_the_bounded_attempts(fake):
    fake.modes = ["error"]
    with pytest.raises(RegistryUnavailable):
        registry(fake.url, attempts=3).find("agdref", "1234567890", "1990-01-02")
    assert len(fake.requests) == 3


@pytest.mark.parametrize("mode", ["forbidden", "garbage"])
def test_a_refused_key_or_a_malformed_answer_is_not_retried(fake, mode):
    fake.modes = [mode]
    with pytest.raises(RegistryUnavailable):
        registry(fake.url).find("agdref", "1234567890", "1990-01-02")
    assert len(fake.requests) == 1


def test_a_service_that_is_down_is_unavailable():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = registry(f"http://127.0.0.1:{port}/lookup", attempts=2)
    with pytest.raises(RegistryUnavailable):
        down.find("agdref", "1234567890", "1990-01-02")
    assert len(down.pauses) == 1


def test_the_breaker_opens_after_failures_in_a_row_then_half_opens_and_closes(fake):
    now = [1000.0]
    breaker = Breaker(failures=2, open_seconds=30, clock=lambda: now[0])
    service = registry(fake.url, attempts=1, breaker=breaker)
    fake.modes = ["error"]
    for _ in range(2):
        with pytest.raises(RegistryUnavailable):
            service.find("agdref", "1234567890", "1990-01-02")
    assert breaker.state == "open"
    asked = len(fake.requests)
    with pytest.raises(RegistryUnavailable):
        service.find("agdref", "1234567890", "1990-01-02")
    assert len(fake.requests) == asked  # open: nothing sent
    now[0] += 30
    assert breaker.state == "half_open"
    with pytest.raises(RegistryUnavailable):  # the trial fails: open again at once
        service.find("agdref", "1234567890", "1990-01-02")
    assert breaker.state == "open" and len(fake.requests) == asked + 1
    now[0] += 30
    fake.modes = ["answer"]
    assert service.find("agdref", "1234567890", "1990-01-02") == RegistryEntry(**KNOWN)
    assert breaker.state == "closed"


def test_half_open_lets_a_single_trial_through():
    breaker = Breaker(failures=1, open_seconds=0, clock=lambda: 0.0)
    breaker.failed()
    assert breaker.allow() and not breaker.allow()
    breaker.succeeded()
    assert breaker.allow() and breaker.allow()


def test_no_log_line_carries_personal_data(fake, monkeypatch):
    lines = []

    class Recording:
        def info(self, message, extra=None):
            lines.append(f"{message} {extra}")

    monkeypatch.setattr(registry_http, "logger", Recording)
    fake.modes = ["error", "answer"]
    registry(fake.url).find("agdref", "1234567890", "1990-01-02")
    fake.modes = ["error"]
    with pytest.raises(RegistryUnavailable) as raised:
        registry(fake.url, attempts=1).find("agdref", "1234567890", "1990-01-02")
    logged = " ".join(lines) + str(raised.value)
    assert "registry attempt failed" in logged and "registry answered" in logged and "registry_ms" in logged
    for value in KNOWN.values():
        assert value not in logged, value


def test_the_environment_chooses_the_http_registry_and_keeps_one_breaker_per_process(fake, monkeypatch):
    monkeypatch.delenv("IDENTITY_REGISTRY_URL", raising=False)
    assert registry_http.from_environment() is None  # unset: the file adapter's turn
    monkeypatch.setenv("IDENTITY_REGISTRY_URL", fake.url)
    monkeypatch.setenv("IDENTITY_REGISTRY_KEY", "from-the-environment")
    monkeypatch.setenv("IDENTITY_REGISTRY_TIMEOUT_MS", "250")
    chosen = registry_http.from_environment()
    assert isinstance(chosen, HttpRegistry) and chosen.timeout_seconds == 0.25
    assert registry_http.from_environment() is chosen
    assert chosen.find("agdref", "1234567890", "1990-01-02") == RegistryEntry(**KNOWN)
    assert fake.requests[-1]["authorization"] == "Bearer from-the-environment"
