"""The shape of the product code (app.py and chalicelib/): its largest modules, its imports inside
functions, its annotated public functions.

Reads the source with ast; nothing is imported or run. A public function is a module-level
function or a method whose name does not start with `_`; it is annotated when its return and every
parameter but self/cls carry an annotation.

    python bench/code_shape.py [ROOT]
"""
import ast
import sys
from pathlib import Path


def product_modules(root):
    return sorted([root / "app.py", *(root / "chalicelib").rglob("*.py")])


def public_functions(tree):
    """(name, annotated) of every public module-level function and method."""
    scopes = [tree.body] + [node.body for node in tree.body if isinstance(node, ast.ClassDef)]
    for body in scopes:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                params = [a for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs if a.arg not in ("self", "cls")]
                params += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
                yield node.name, node.returns is not None and all(a.annotation is not None for a in params)


def function_level_imports(tree):
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found |= {(n.lineno, ast.unparse(n)) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return sorted(found)


def main(root):
    modules = product_modules(root)
    sizes = sorted(((len(p.read_text().splitlines()), p.relative_to(root)) for p in modules), reverse=True)
    print(f"product modules: {len(modules)}, lines: {sum(n for n, _ in sizes)}")
    print("ten largest modules:")
    for lines, path in sizes[:10]:
        print(f"  {lines:5d}  {path}")
    local, public, annotated = [], 0, 0
    for path in modules:
        tree = ast.parse(path.read_text())
        local += [f"{path.relative_to(root)}:{line}: {text}" for line, text in function_level_imports(tree)]
        for _, typed in public_functions(tree):
            public += 1
            annotated += typed
    print(f"imports inside functions: {len(local)}")
    for line in local:
        print(f"  {line}")
    print(f"public functions: {public}, annotated: {annotated} ({100 * annotated / max(public, 1):.0f} %)")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
