"""The layers hold by a test, not by goodwill (DEVELOPERS.md, "Layers"): read from the source
with ast, nothing imported or run.

- only chalicelib/storage/ talks to DynamoDB: no other module imports PynamoDB, the models or
  the package's core modules, or names DynamoDB to boto3;
- use cases write no key of storage's: no partition attribute, index partition or key prefix;
- the pure modules (domain.py, refusals.py, records.py) import no storage, boto3, botocore or Chalice;
- chalicelib uses PynamoDB's public API only: no private name of PynamoDB's (read from its source).
"""
import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "chalicelib" / "storage"
OUTSIDE = sorted([ROOT / "app.py", *(p for p in (ROOT / "chalicelib").glob("*.py"))])
EVERY_MODULE = sorted([ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")])
# The pure modules, and the chalicelib modules each may import (None: any but storage).
PURE = {"domain.py": None, "refusals.py": ("chalicelib.domain", "chalicelib.errors"), "records.py": ()}

# Storage's names for keys and partitions: item attributes, index partitions, key prefixes.
KEY_ATTRIBUTES = {"pk", "sk", "search_pk", "pool_pk", "day_pk", "draw_pk"}
KEY_PREFIXES = ("booking#", "request#", "notify#", "record#", "figures#", "signals#", "partner-key#", "partner-holds#",
                "holds-ip#", "requests-ip#", "lookup-ip#", "lookup-identity#")


def _tree(path):
    return ast.parse(path.read_text(), filename=str(path))


def imported(tree):
    """Every module an import statement names (`from a import b` gives a and a.b)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def storage_leaks(tree):
    """Imports and strings by which a module would reach DynamoDB other than through the
    package's public names (`from chalicelib import storage`, storage.<function>)."""
    leaks = [name for name in imported(tree)
             if name.split(".")[0] == "pynamodb" or name.startswith("chalicelib.storage.") or name.startswith("boto3.dynamodb")]
    leaks += [f"{node.value!r}" for node in ast.walk(tree)
              if isinstance(node, ast.Constant) and node.value == "dynamodb"]
    return leaks


def key_formats(tree):
    """Key attributes read or written, and string pieces that spell a key prefix of storage's."""
    found = [f".{node.attr}" for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr in KEY_ATTRIBUTES]
    found += [f"{node.arg}=" for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg in KEY_ATTRIBUTES]
    found += [repr(node.value) for node in ast.walk(tree)
              if isinstance(node, ast.Constant) and isinstance(node.value, str) and any(p in node.value for p in KEY_PREFIXES)]
    return found


def _pynamodb_private_names():
    """Every private name PynamoDB's source defines or assigns (`_get_connection`, `_connection`,
    `_commit`, `_tables`, `_make_api_call`, `_local`...), read from the installed package."""
    names = set()
    for root in importlib.util.find_spec("pynamodb").submodule_search_locations:
        for path in Path(root).rglob("*.py"):
            for node in ast.walk(_tree(path)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    return {name for name in names if name.startswith("_") and not name.startswith("__") and name != "_"}


PYNAMODB_PRIVATE = _pynamodb_private_names()


def _pynamodb_bases(tree):
    """Classes deriving from a class imported from PynamoDB: there `self._x` may be PynamoDB's."""
    from_pynamodb = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                     and (node.module or "").split(".")[0] == "pynamodb" for alias in node.names}
    return [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            and any(isinstance(n, ast.Name) and n.id in from_pynamodb for base in node.bases for n in ast.walk(base))]


def pynamodb_internals(tree):
    """Uses of PynamoDB's private names: `x._name` (but our own `self._name`, outside a subclass
    of a PynamoDB class), getattr-like strings, and imports of private modules or names."""
    inside = {id(n) for cls in _pynamodb_bases(tree) for n in ast.walk(cls)}
    found = [f"{ast.unparse(node)}" for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr in PYNAMODB_PRIVATE
             and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls") and id(node) not in inside)]
    found += [repr(node.value) for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value in PYNAMODB_PRIVATE]
    found += [name for name in imported(tree)
              if name.split(".")[0] == "pynamodb" and any(part.startswith("_") for part in name.split("."))]
    return found


MODEL_IO = {"get", "query", "scan", "count", "batch_get", "batch_write", "save", "update", "delete", "refresh"}


def model_io_calls(tree):
    """Calls of a model's (or its index's) own I/O methods, which would take the model's own
    client and skip the shared connection's retry point: `Slot.get(...)`, `Slot.search.query(...)`."""
    models = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
              and (node.module or "").endswith("storage.models") for alias in node.names}
    models = {name for name in models if name[0].isupper() and not name.isupper()}  # classes, not constants
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)]
    return [ast.unparse(f) for f in calls if f.attr in MODEL_IO
            and any(isinstance(n, ast.Name) and n.id in models for n in ast.walk(f.value))]


@pytest.mark.parametrize("path", sorted(STORAGE.glob("*.py")), ids=lambda p: p.name)
def test_storage_sends_every_operation_through_the_shared_connection(path):
    assert model_io_calls(_tree(path)) == [], f"{path.name} calls a model's own I/O: use calls.py's helpers"


@pytest.mark.parametrize("path", EVERY_MODULE, ids=lambda p: str(p.relative_to(ROOT)))
def test_chalicelib_uses_pynamodb_s_public_api_only(path):
    assert pynamodb_internals(_tree(path)) == [], f"{path.name} uses a PynamoDB internal"


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: p.name)
def test_only_the_storage_package_talks_to_dynamodb(path):
    assert storage_leaks(_tree(path)) == [], f"{path.name} reaches DynamoDB outside chalicelib/storage/"


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: p.name)
def test_use_cases_write_no_key_of_storage_s(path):
    assert key_formats(_tree(path)) == [], f"{path.name} spells storage's keys: pass values, let storage build them"


@pytest.mark.parametrize("name", sorted(PURE))
def test_the_pure_modules_import_no_storage_aws_or_http(name):
    names = set(imported(_tree(ROOT / "chalicelib" / name)))
    assert not pure_breaches(names, PURE[name]), pure_breaches(names, PURE[name])


def pure_breaches(names, allowed_chalicelib):
    """Imports a pure module may not make: storage (or any chalicelib module not allowed, when a
    list is given: records.py takes the standard library only), boto3, botocore, Chalice, PynamoDB."""
    breaches = {n for n in names if n.split(".")[0] in {"boto3", "botocore", "chalice", "pynamodb"}}
    breaches |= {n for n in names if n == "chalicelib.storage" or n.startswith("chalicelib.storage.")}
    if allowed_chalicelib is not None:
        breaches |= {n for n in names if n.startswith("chalicelib.") and n.rsplit(".", 1)[0] not in allowed_chalicelib
                     and n not in allowed_chalicelib}
    return breaches


def test_the_checks_see_what_they_are_for():
    """Each check catches a line that breaks its rule (so a pass above means something)."""
    assert storage_leaks(ast.parse("from chalicelib.storage.models import Slot"))
    assert storage_leaks(ast.parse("from pynamodb.models import Model"))
    assert storage_leaks(ast.parse("import boto3\nboto3.client('dynamodb')"))
    assert not storage_leaks(ast.parse("from chalicelib import storage\nstorage.get_slot('x')"))
    assert key_formats(ast.parse("x = Request(pool_pk=f'{site}#{procedure}')"))
    assert key_formats(ast.parse("scope = f'booking#{procedure_id}'"))
    assert key_formats(ast.parse("site_id = site.sk"))
    assert not key_formats(ast.parse("site_id = site.site_id"))
    assert pynamodb_internals(ast.parse("table = model._get_connection()\ntable.connection = shared"))
    assert pynamodb_internals(ast.parse("with TransactWrite(connection=c) as tx:\n    tx._commit()"))
    assert pynamodb_internals(ast.parse("getattr(Slot, '_connection')"))
    assert pynamodb_internals(ast.parse("from pynamodb.connection._botocore_private import BotocoreBaseClientPrivate"))
    assert pynamodb_internals(ast.parse(
        "from pynamodb.connection import Connection\nclass C(Connection):\n    def f(self):\n        return self._tables"))
    assert not pynamodb_internals(ast.parse("class T:\n    def f(self):\n        return self._items"))
    assert model_io_calls(ast.parse("from chalicelib.storage.models import Slot\nSlot.search.query('x')"))
    assert model_io_calls(ast.parse("from chalicelib.storage.models import Request\nlist(Request.batch_get(ids))"))
    assert not model_io_calls(ast.parse("from chalicelib.storage.models import Slot\nquery_all(Slot, 'x', index=Slot.search)"))
    assert not pynamodb_internals(ast.parse("Slot.from_raw_data(item)\nconnection().get_item(table, key)"))
    assert pure_breaches({"chalicelib", "chalicelib.storage"}, None)
    assert pure_breaches({"botocore.exceptions"}, None)
    assert pure_breaches({"chalicelib.clock", "chalicelib.clock.now"}, ())
    assert not pure_breaches({"chalicelib.errors", "chalicelib.errors.Conflict"}, ("chalicelib.errors",))


def test_storage_is_a_package_with_its_models_inside():
    assert (STORAGE / "__init__.py").exists() and (STORAGE / "models.py").exists()
    assert not (ROOT / "chalicelib" / "models.py").exists() and not (ROOT / "chalicelib" / "storage.py").exists()
