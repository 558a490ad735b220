"""Measure how polyglot's package is put together: its import graph, cycles, imports of private
names across modules, function-local imports of polyglot's own modules, line counts per package
and the longest functions. `docs/architecture.md` keeps the figures; `tests/test_architecture.py`
checks the rules (no cycles, no private cross-module imports, every local import commented).

    python scripts/house_metrics.py            # the table
    python scripts/house_metrics.py --json     # the same as JSON
    python scripts/house_metrics.py --package ../old/polyglot   # another checkout
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "polyglot"


@dataclass
class Import:
    source: str  # importing module, e.g. polyglot.evaluate.runner
    target: str  # imported module
    names: list[str]
    line: int
    local: bool  # inside a function
    commented: bool  # a comment on the line or the line above says why it is local


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    imports: list[Import] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)  # a package's lazy _EXPORTS
    functions: list[tuple[str, int]] = field(default_factory=list)  # (qualified name, lines)


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(target: str, modules: set[str]) -> str | None:
    """The polyglot module an import names (a `from pkg import mod` names the submodule)."""
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def read_module(path: Path, root: Path = PACKAGE) -> Module:
    text = path.read_text()
    source_lines = text.splitlines()
    tree = ast.parse(text)
    name = module_name(path, root)
    module = Module(name, path, len(source_lines))
    is_package = path.name == "__init__.py"

    def commented(line: int) -> bool:
        here = source_lines[line - 1]
        above = source_lines[line - 2].strip() if line > 1 else ""
        return "#" in here or above.startswith("#")

    def visit(node: ast.AST, local: bool, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                module.functions.append((f"{prefix}{child.name}", length))
                visit(child, True, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, local, f"{prefix}{child.name}.")
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("polyglot"):
                        module.imports.append(
                            Import(
                                name, alias.name, [], child.lineno, local, commented(child.lineno)
                            )
                        )
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(child, name, is_package)
                if target.startswith("polyglot"):
                    names = [alias.name for alias in child.names]
                    module.imports.append(
                        Import(name, target, names, child.lineno, local, commented(child.lineno))
                    )
            elif isinstance(child, ast.If) and _is_type_checking(child):
                continue  # imports only a type checker reads
            else:
                visit(child, local, prefix)

    visit(tree, False, "")
    for node in tree.body:  # name -> module of a package's lazily loaded names
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            module.exports = ast.literal_eval(node.value)
    return module


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def read_package(root: Path = PACKAGE) -> dict[str, Module]:
    return {m.name: m for m in (read_module(p, root) for p in sorted(root.rglob("*.py")))}


def edges(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Module → the polyglot modules it imports (module level and inside functions alike: an
    import moved into a function to dodge a cycle is still a cycle)."""
    names = set(modules)
    graph: dict[str, set[str]] = defaultdict(set)
    for module in modules.values():
        for imp in module.imports:
            targets = [imp.target]
            # `from polyglot.evaluate import runner` imports the submodule; a lazily exported
            # name loads its module then and there
            targets += [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in names]
            exports = modules[imp.target].exports if imp.target in modules else {}
            targets += [exports[n] for n in imp.names if n in exports]
            for target in targets:
                known = _known(target, names)
                if known and known != module.name and not module.name.startswith(known + "."):
                    # a package's own __init__ is not a dependency of its submodules for cycles
                    graph[module.name].add(known)
                # importing polyglot.a.b runs polyglot/a/__init__.py first: its imports count
                parts = (known or "").split(".")
                for i in range(2, len(parts)):
                    package = ".".join(parts[:i])
                    if package in names and not (module.name + ".").startswith(package + "."):
                        graph[module.name].add(package)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                strong(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {n for targets in graph.values() for n in targets}):
        if node not in index:
            strong(node)
    return sorted(found)


def private_imports(modules: dict[str, Module]) -> list[str]:
    """`from polyglot.x import _name` in a module other than x (and not x's own package)."""
    found = []
    for module in modules.values():
        for imp in module.imports:
            for name in imp.names:
                if name.startswith("_") and not name.startswith("__"):
                    found.append(f"{module.name}:{imp.line} imports {imp.target}.{name}")
    return sorted(found)


def local_imports(modules: dict[str, Module]) -> list[Import]:
    return [imp for module in modules.values() for imp in module.imports if imp.local]


def measure(root: Path = PACKAGE) -> dict:
    modules = read_package(root)
    graph = edges(modules)
    per_package: dict[str, int] = defaultdict(int)
    for module in modules.values():
        parts = module.name.split(".")
        in_subpackage = len(parts) > 2 or (len(parts) == 2 and module.path.name == "__init__.py")
        per_package[parts[1] if in_subpackage else "(top)"] += module.lines
    functions = sorted(
        ((length, f"{m.name}.{fn}") for m in modules.values() for fn, length in m.functions),
        reverse=True,
    )
    local = local_imports(modules)
    return {
        "modules": len(modules),
        "lines": sum(m.lines for m in modules.values()),
        "cycles": cycles(graph),
        "private_cross_module_imports": private_imports(modules),
        "local_imports": len(local),
        "local_imports_uncommented": sum(not imp.commented for imp in local),
        "lines_per_package": dict(sorted(per_package.items())),
        "longest_functions": [{"function": f, "lines": n} for n, f in functions[:10]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--package", type=Path, default=PACKAGE, help="another checkout's polyglot/"
    )
    args = parser.parse_args()
    figures = measure(args.package.resolve())
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"modules {figures['modules']}, lines {figures['lines']}")
    print(f"import cycles: {len(figures['cycles'])}")
    for cycle in figures["cycles"]:
        print("  " + " <-> ".join(cycle))
    print(f"private names imported across modules: {len(figures['private_cross_module_imports'])}")
    for line in figures["private_cross_module_imports"]:
        print("  " + line)
    print(
        f"function-local imports of polyglot modules: {figures['local_imports']}"
        f" ({figures['local_imports_uncommented']} without a comment)"
    )
    print("lines per package:")
    for package, lines in figures["lines_per_package"].items():
        print(f"  {package:12s} {lines:6d}")
    print("longest functions:")
    for row in figures["longest_functions"]:
        print(f"  {row['lines']:4d}  {row['function']}")


if __name__ == "__main__":
    main()
