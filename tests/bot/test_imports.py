"""`bot/` reaches Chroma, LangChain and pandas only through `retrieval` and `knowledge` (DESIGN.md)."""

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
FORBIDDEN = ("chromadb", "langchain", "pandas")
FILES = sorted(BOT.rglob("*.py"))


def forbidden(module):
    top = module.split(".")[0]
    return top in ("chromadb", "pandas") or top.startswith("langchain")


def imported_modules(tree):
    """Every module an `import`, `from ... import`, `importlib.import_module("...")` or `__import__("...")`
    names, at any depth (top level, functions, TYPE_CHECKING blocks)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def test_the_bot_package_has_python_files():
    assert BOT / "__init__.py" in FILES and len(FILES) >= 5


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(BOT)) for p in FILES])
def test_no_direct_import_of_chromadb_langchain_or_pandas(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [f"{path.name}:{line} imports {module}" for line, module in imported_modules(tree) if forbidden(module)]
    assert bad == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import chromadb", True),
        ("import pandas as pd", True),
        ("from langchain_core.documents import Document", True),
        ("def f():\n    from langchain.chat_models import init_chat_model", True),
        ("import importlib\nimportlib.import_module('chromadb.config')", True),
        ("from retrieval.index import Index", False),
        ("import pandas_stubs_like_name_is_fine_if_not_pandas", False),
        ("from . import pandas", False),  # a relative import of a sibling module named pandas
    ],
)
def test_the_checker_itself(source, expected):
    found = any(forbidden(m) for _, m in imported_modules(ast.parse(source)))
    assert found is expected
