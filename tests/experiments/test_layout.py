"""The experiments models import one another one way, at the top of each module: the choices
from experiments/enums.py, the other models modules without a circle."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import experiments.models

MODELS = Path(experiments.models.__file__).parent


def _modules():
    return {path.stem: ast.parse(path.read_text()) for path in MODELS.glob("*.py")}


def test_no_models_module_imports_inside_a_function():
    late = [
        f"{name}.py:{node.lineno}"
        for name, tree in _modules().items()
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert late == []


def test_the_models_modules_import_each_other_without_a_circle():
    graph = {
        name: {
            node.module
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        }
        for name, tree in _modules().items()
        if name != "__init__"
    }
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as circle:
        raise AssertionError(f"import circle: {circle.args[1]}") from None
    assert order.index("evidence") < order.index("criteria") < order.index("experiment")
