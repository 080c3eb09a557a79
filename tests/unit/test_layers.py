"""The layers hold by a test, not by goodwill (docs/architecture.md, "Layers"): read from the
source with ast, nothing imported or run.

- each folder of chalicelib/ imports only the layers its row of LAYERS allows, and the pure
  rules (chalicelib/rules/) nothing but the standard library;
- no import cycle between modules, counting imports inside functions; an import inside a
  function is kept only for cold start, and says so on its line;
- no module over MAX_LINES lines but the PynamoDB models;
- only chalicelib/storage/ talks to DynamoDB: no other module imports PynamoDB, the models or
  the package's core modules, or names DynamoDB to boto3;
- use cases write no key of storage's: no partition attribute, index partition or key prefix;
- chalicelib uses PynamoDB's public API only: no private name of PynamoDB's (read from its source).
"""
import ast
import collections
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
STORAGE = CHALICELIB / "storage"
EVERY_MODULE = sorted([ROOT / "app.py", *CHALICELIB.rglob("*.py")])
OUTSIDE = [p for p in EVERY_MODULE if STORAGE not in p.parents]

# The layers, lowest first, and what each may import of chalicelib (its own folder included).
# Third-party packages: the pure rules take none; HTTP and the use cases never take Chalice
# (app.py alone is the web framework's); nothing but storage takes PynamoDB (tested below).
LAYERS = {
    "rules": {"rules"},
    "platform": {"rules", "platform"},
    "storage": {"rules", "platform", "storage"},
    "usecases": {"rules", "platform", "storage", "usecases"},
    "http": {"rules", "platform", "http"},
    "app": {"rules", "platform", "storage", "usecases", "http", "handlers"},
    "handlers": {"rules", "platform", "storage", "usecases", "http", "handlers"},  # app.py's routes, one module per audience
}
THIRD_PARTY_REFUSED = {
    "rules": None,  # None: the standard library only
    "platform": {"chalice", "pynamodb"},
    "storage": {"chalice"},
    "usecases": {"chalice", "pynamodb", "jwt"},
    "http": {"chalice", "pynamodb", "boto3", "botocore"},
    "app": {"pynamodb"},
    "handlers": {"pynamodb"},
}
MAX_LINES = 400
LONGER_ALLOWED = {CHALICELIB / "storage" / "models.py"}  # the tables' declaration, read as one
STDLIB = set(sys.stdlib_module_names)


def layer_of(path):
    if path == ROOT / "app.py":
        return "app"
    return path.relative_to(CHALICELIB).parts[0]


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of_module(name):
    """The layer a chalicelib module name belongs to (`chalicelib.rules.lifecycle` -> rules)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_breaches(path, tree):
    """Imports this module's layer does not allow: another layer of chalicelib, or a refused package."""
    layer = layer_of(path)
    breaches = []
    for name in imported(tree):
        top = name.split(".")[0]
        if top == "chalicelib":
            target = layer_of_module(name)
            if target is not None and target not in LAYERS[layer]:
                breaches.append(name)
        elif THIRD_PARTY_REFUSED[layer] is None:
            if top not in STDLIB:
                breaches.append(name)
        elif top in THIRD_PARTY_REFUSED[layer]:
            breaches.append(name)
    return breaches


def _function_level_imports(tree):
    """Import statements inside a function (at any depth)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return list({id(n): n for n in found}.values())


def unexplained_local_imports(path):
    """Imports inside a function whose line does not say why (`# cold start: ...`)."""
    lines = path.read_text().splitlines()
    return [f"{path.relative_to(ROOT)}:{node.lineno}" for node in _function_level_imports(_tree(path))
            if "# cold start" not in lines[node.end_lineno - 1]]


def imported_modules(tree, names):
    """The project modules an import names: `from a import b` is a.b when that is a module, else a."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                yield full if full in names else node.module


def import_graph(paths):
    """module -> project modules it imports, at module or function level."""
    names = {module_name(p) for p in paths}
    graph = collections.defaultdict(set)
    for path in paths:
        graph[module_name(path)] |= {n for n in imported_modules(_tree(path), names) if n in names and n != module_name(path)}
    return graph


def reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def cycles(graph):
    """The groups of more than one module that import each other, directly or not."""
    found = []
    for node in sorted(graph):
        group = sorted({node} | {other for other in reachable(graph, node) if node in reachable(graph, other)})
        if len(group) > 1 and group not in found:
            found.append(group)
    return found


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


@pytest.mark.parametrize("path", EVERY_MODULE, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_layer_imports_only_what_its_row_allows(path):
    assert layer_breaches(path, _tree(path)) == [], f"{path.relative_to(ROOT)} ({layer_of(path)}) may import {sorted(LAYERS[layer_of(path)])}"


def test_every_folder_of_chalicelib_is_a_layer_of_the_table():
    folders = {p.name for p in CHALICELIB.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS) - {"app"}
    assert sorted(p.name for p in CHALICELIB.glob("*.py")) == [], "every module lives in a layer's folder"


def test_no_import_cycle_at_module_or_function_level():
    assert cycles(import_graph(EVERY_MODULE)) == []


@pytest.mark.parametrize("path", EVERY_MODULE, ids=lambda p: str(p.relative_to(ROOT)))
def test_an_import_inside_a_function_is_there_for_cold_start_and_says_so(path):
    assert unexplained_local_imports(path) == []


@pytest.mark.parametrize("path", EVERY_MODULE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_too_long_to_read(path):
    lines = len(path.read_text().splitlines())
    assert path in LONGER_ALLOWED or lines <= MAX_LINES, f"{path.relative_to(ROOT)}: {lines} lines"


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
    rules, usecases, http = CHALICELIB / "rules" / "x.py", CHALICELIB / "usecases" / "x.py", CHALICELIB / "http" / "x.py"
    assert layer_breaches(rules, ast.parse("from chalicelib import storage"))
    assert layer_breaches(rules, ast.parse("import botocore.exceptions"))
    assert layer_breaches(rules, ast.parse("from chalicelib.platform.clock import now"))
    assert not layer_breaches(rules, ast.parse("import hmac\nfrom chalicelib.rules.errors import Conflict"))
    assert layer_breaches(usecases, ast.parse("from chalicelib.http import contract"))
    assert layer_breaches(usecases, ast.parse("from chalice import Response"))
    assert layer_breaches(http, ast.parse("from chalicelib.usecases import booking"))
    assert not layer_breaches(usecases, ast.parse("from chalicelib import storage\nfrom chalicelib.usecases import booking"))
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    graph = import_graph(EVERY_MODULE)
    assert "chalicelib.handlers.public" in graph["app"] and "chalicelib.usecases.booking" in graph["chalicelib.handlers.public"]


def test_storage_is_a_package_with_its_models_inside():
    assert (STORAGE / "__init__.py").exists() and (STORAGE / "models.py").exists()
    assert not (ROOT / "chalicelib" / "models.py").exists() and not (ROOT / "chalicelib" / "storage.py").exists()
