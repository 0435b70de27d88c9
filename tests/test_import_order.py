"""Imports run one way between the apps: each app imports only from the apps below it.

The order (also drawn in the README's architecture page), lowest first:

    loyalty    tenancy, roles, audit, web helpers
    cards      programs, cards, the ledger, the card page
    customers  the CRM: customers, registration and joining, segments
    feedback   pushes    (side by side: neither imports the other)

Where an app below must react to one above, it sends a signal (``cards.signals``) or asks a
registry (``loyalty.parts.PageParts``) that the app above fills in its ``AppConfig.ready``.
The project's wiring (its root URLconf) is the one place that imports every app.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {
    "loyalty": 0,
    "cards": 1,
    "customers": 2,
    "feedback": 3,
    "pushes": 3,
    "wallet": 4,
    "analytics": 4,
}
# The project's wiring: URLconfs that mount every app's pages.
WIRING = {"loyalty.urls", "loyalty.settings_urls"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the project module imported
    line: int
    in_function: bool
    type_checking: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_files(*folders: str) -> list[Path]:
    return sorted(
        path for folder in folders for path in (ROOT / folder).rglob("*.py") if path.is_file()
    )


APP_FILES = _project_files(*LAYERS)
PROJECT_MODULES = {_module_name(path) for path in APP_FILES}


def _resolve(node: ast.ImportFrom | ast.Import) -> Iterator[str]:
    """The project modules an import statement loads (``from cards import services`` loads
    ``cards.services``; ``from cards.models import Card`` loads ``cards.models``)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in LAYERS:
                yield alias.name
        return
    assert node.level == 0, "use absolute imports"
    base = node.module or ""
    if base.split(".")[0] not in LAYERS:
        return
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in PROJECT_MODULES else base


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.imports: list[Import] = []
        self.depth = 0
        self.type_checking = False

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            self.type_checking = True
            for child in node.body:
                self.visit(child)
            self.type_checking = False
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        for target in _resolve(node):
            self.imports.append(
                Import(self.module, target, node.lineno, self.depth > 0, self.type_checking)
            )

    visit_Import = visit_ImportFrom = _import


def _imports(path: Path) -> list[Import]:
    collector = _Collector(_module_name(path))
    collector.visit(ast.parse(path.read_text(), filename=str(path)))
    return collector.imports


def _app(module: str) -> str:
    return module.split(".")[0]


def _allowed(importer: str, target: str) -> bool:
    if importer in WIRING:
        return True
    here, there = _app(importer), _app(target)
    return here == there or LAYERS[there] < LAYERS[here]


def test_apps_import_only_from_apps_below_them() -> None:
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for path in APP_FILES
        for i in _imports(path)
        if not _allowed(i.module, i.target)
    ]
    assert wrong == [], "imports against the order of the apps:\n" + "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _module_graph() -> dict[str, set[str]]:
    """Who imports whom when the modules load (imports inside functions run later)."""
    graph: dict[str, set[str]] = {}
    for path in APP_FILES:
        for i in _imports(path):
            loads_now = not i.in_function and not i.type_checking
            # A package's module reaching its own package (its __init__) is no cycle of ours.
            own_package = i.target == i.module or i.module.startswith(i.target + ".")
            if loads_now and not own_package:
                graph.setdefault(i.module, set()).add(i.target)
    return graph


def test_no_module_imports_itself_in_a_circle() -> None:
    assert _cycles(_module_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _import_lines(tree: ast.AST) -> set[int]:
    return {
        line
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }


def _says_why(lines: list[str], import_lines: set[int], line: int) -> bool:
    """A comment on the import's line, or just above the block of imports it belongs to."""
    if "#" in lines[line - 1]:
        return True
    above = line - 1
    while above in import_lines or (above > 0 and not lines[above - 1].strip()):
        above -= 1
    return above > 0 and lines[above - 1].strip().startswith("#")


@pytest.mark.parametrize("folder", [*LAYERS, "bench"])
def test_late_imports_say_why_they_are_late(folder: str) -> None:
    unexplained = set()
    for path in _project_files(folder):
        text = path.read_text()
        lines, import_lines = text.splitlines(), _import_lines(ast.parse(text))
        for i in _imports(path):
            if i.in_function and not _says_why(lines, import_lines, i.line):
                unexplained.add(f"{i.module}:{i.line} imports {i.target} in a function")
    assert sorted(unexplained) == [], "\n".join(sorted(unexplained))


def test_the_order_check_refuses_an_import_from_above_or_from_a_sibling() -> None:
    assert _allowed("customers.views.crm", "cards.models")
    assert not _allowed("cards.services.ledger", "customers.models")
    assert not _allowed("feedback.views", "pushes.selectors")
    assert not _allowed("loyalty.services", "cards.models")
    assert _allowed("loyalty.urls", "pushes.urls")
