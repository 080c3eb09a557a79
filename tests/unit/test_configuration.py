"""Configuration is read at call time, from chalicelib/platform/config.py only: a changed environment
applies at the next call, a deployed function still refuses to start without its staff and CORS
settings, and no module keeps settings of its own (the gate at the end reads the source)."""
import ast
from pathlib import Path

import pytest

from chalicelib.platform import config
from chalicelib.usecases import notify, site_catalog

ROOT = Path(__file__).resolve().parents[2]
STAFF = {"STAFF_JWKS_URL": "https://pool/jwks", "STAFF_JWT_ISSUER": "https://pool", "STAFF_JWT_AUDIENCE": "client"}


def test_a_changed_variable_applies_at_the_next_call(monkeypatch, tmp_path):
    before = config.current()
    assert config.current() is before  # an unchanged environment is not read again
    monkeypatch.setenv("MAIL_FROM", "rdv@prefecture.example")
    monkeypatch.setenv("DEFAULT_HOLD_TTL_SECONDS", "120")
    monkeypatch.setenv("OUTBOX_DIR", str(tmp_path))
    assert config.current().mail_from == "rdv@prefecture.example"
    assert site_catalog.default_policy("renewal").hold_ttl_seconds == 120
    notify.send(b"Subject: test\r\n\r\nbody\r\n", "one")
    assert (tmp_path / "one.eml").exists()
    monkeypatch.delenv("MAIL_FROM")
    assert config.current().mail_from == "rendez-vous@fairslot.example"


def test_a_replaced_environment_is_read_too(monkeypatch):
    from unittest import mock

    with mock.patch("os.environ", {"FAIRSLOT_LOCAL": "1", "MAIL_FROM": "rdv@elsewhere.example"}):
        assert config.current().mail_from == "rdv@elsewhere.example"
        assert config.current().table_prefix == "fairslot-dev"
    assert config.current().table_prefix == "fairslot-test"


def test_a_deployed_function_refuses_to_start_without_its_staff_or_cors_settings(monkeypatch):
    monkeypatch.delenv("FAIRSLOT_LOCAL")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fairslot-dev-APIHandler")
    for name, value in STAFF.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CORS_ORIGINS", "https://rdv.example.org")
    assert config.current().in_aws
    for missing in (*STAFF, "CORS_ORIGINS"):
        with monkeypatch.context() as m:
            m.delenv(missing)
            with pytest.raises(config.ConfigurationError, match=missing):
                config.current()
    assert config.current().cors_origins == ["https://rdv.example.org"]


@pytest.mark.parametrize("origin", ["http://localhost:8080", "https://localhost:8443", "http://rdv.example.org"])
def test_prod_refuses_an_origin_that_is_not_the_web_apps_https(monkeypatch, origin):
    monkeypatch.delenv("FAIRSLOT_LOCAL")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fairslot-prod-APIHandler")
    for name, value in STAFF.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CORS_ORIGINS", origin)
    monkeypatch.setenv("FAIRSLOT_STAGE", "dev")
    assert config.current().cors_origins == [origin]  # dev may name a local web app
    monkeypatch.setenv("FAIRSLOT_STAGE", "prod")
    with pytest.raises(config.ConfigurationError, match="CORS"):
        config.current()


def test_locally_the_same_variables_refuse_nothing(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "f")  # chalice local under FAIRSLOT_LOCAL=1
    monkeypatch.setenv("FAIRSLOT_STAGE", "prod")
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    assert not config.current().in_aws
    assert "http://localhost:8080" in config.current().cors_origins


class _Recording:
    """An environment that answers like an empty one and remembers which names were asked."""

    def __init__(self, values=None):
        self.values, self.asked = values or {}, set()

    def get(self, name, default=None):
        self.asked.add(name)
        return self.values.get(name, default)


def test_load_reads_exactly_the_listed_variables():
    asked = set()
    for values in ({}, {"FAIRSLOT_LOCAL": "1"}, {"AWS_LAMBDA_FUNCTION_NAME": "f"}, {"OUTBOX_DIR": "/tmp/o"}):
        recording = _Recording(values)
        config._load(recording)
        asked |= recording.asked
    assert asked == set(config.VARIABLES)
    assert len(config.VARIABLES) == len(set(config.VARIABLES))


def test_a_variable_missing_from_the_list_fails_at_the_first_call():
    env = config._Environment({name: None for name in config.VARIABLES if name != "MAIL_FROM"})
    with pytest.raises(LookupError, match="MAIL_FROM"):
        config._load(env)


def test_config_reads_the_process_environment_in_one_place():
    tree = ast.parse((ROOT / "chalicelib" / "platform" / "config.py").read_text())
    readers = {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
               for node in ast.walk(f) if _reads_environment(node)}
    assert readers == {"_snapshot", "_environment"}
    assert not [node for node in tree.body if any(_reads_environment(n) for n in ast.walk(node))
                and not isinstance(node, ast.FunctionDef)]



def test_config_reads_the_environment_through_public_names_only():
    """No CPython internals (os.environ._data, encodekey, decodevalue): they may change in any release."""
    tree = ast.parse((ROOT / "chalicelib" / "platform" / "config.py").read_text())
    internals = {"_data", "encodekey", "decodekey", "encodevalue", "decodevalue", "putenv", "unsetenv"}
    named = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    named |= {arg.value for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr")
              for arg in node.args[1:2] if isinstance(arg, ast.Constant)}
    assert named & internals == set()


def test_unsetting_or_emptying_a_variable_applies_at_the_next_call(monkeypatch):
    monkeypatch.setenv("MAIL_FROM", "rdv@prefecture.example")
    assert config.current().mail_from == "rdv@prefecture.example"
    monkeypatch.delenv("MAIL_FROM")
    assert config.current().mail_from != "rdv@prefecture.example"
    monkeypatch.setenv("MAIL_FROM", "autre@prefecture.example")
    assert config.current().mail_from == "autre@prefecture.example"


# --- the gate: every module reads settings through config.current(), when it runs ---------------

def _product_modules():
    return [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]


def _reads_environment(node):
    """os.environ / os.getenv / os.putenv..., or `from os import environ, getenv`."""
    if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"):
        return True
    if isinstance(node, ast.ImportFrom) and node.module == "os":
        return any(alias.name in ("environ", "environb", "getenv", "getenvb") for alias in node.names)
    return False


def _calls_current(node):
    return any(isinstance(n, ast.Call) and (
        isinstance(n.func, ast.Attribute) and n.func.attr == "current" and isinstance(n.func.value, ast.Name)
        and n.func.value.id == "config" or isinstance(n.func, ast.Name) and n.func.id == "current")
        for n in ast.walk(node))


def _module_level(body):
    """The statements run at import: the module's, and those of its classes' bodies."""
    for node in body:
        yield node
        if isinstance(node, ast.ClassDef):
            yield from _module_level(node.body)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            yield from _module_level([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)])


def violations(path, source):
    """What breaks the rule in one module's source, as readable strings."""
    tree = ast.parse(source)
    name = path.relative_to(ROOT).as_posix()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "chalicelib.platform.config":
            found += [f"{name}:{node.lineno} imports {a.name} from chalicelib.platform.config (use config.current() where it is used)"
                      for a in node.names if a.name in ("settings", "current", "_load")]
        if name != "chalicelib/platform/config.py" and _reads_environment(node):
            found.append(f"{name}:{node.lineno} reads the environment outside chalicelib/platform/config.py")
    for node in _module_level(tree.body):
        binds = isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None
        if binds and _calls_current(node.value):
            found.append(f"{name}:{node.lineno} keeps config.current() in a module-level name")
    return found


def test_no_module_keeps_settings_or_reads_the_environment_itself():
    found = [v for path in _product_modules() for v in violations(path, path.read_text())]
    assert found == []


@pytest.mark.parametrize("source, broken", [
    ("from chalicelib.platform.config import settings\n", "imports settings"),
    ("from chalicelib import config\nSETTINGS = config.current()\n", "module-level name"),
    ("from chalicelib import config\nclass C:\n    ttl = config.current().catalog_cache_seconds\n", "module-level name"),
    ("from chalicelib.platform.config import current\nPREFIX = current().table_prefix\n", "module-level name"),
    ("import os\nREGION = os.environ.get('AWS_REGION')\n", "reads the environment"),
    ("import os\ndef region():\n    return os.getenv('AWS_REGION')\n", "reads the environment"),
    ("from os import environ\n", "reads the environment"),
])
def test_the_gate_sees_each_way_of_breaking_the_rule(source, broken):
    assert any(broken in v for v in violations(ROOT / "chalicelib" / "example.py", source))


def test_the_gate_lets_call_time_reads_through():
    source = "from chalicelib import config\ndef ttl():\n    settings = config.current()\n    return settings.catalog_cache_seconds\n"
    assert violations(ROOT / "chalicelib" / "example.py", source) == []
