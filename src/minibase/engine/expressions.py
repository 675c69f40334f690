"""A small, safe expression language for math, conditions, filters and maps (never ``eval``).

Expressions are parsed with :mod:`ast` and walked by an interpreter that knows only:
literals (numbers, strings, ``true``/``false``/``null`` and their Python spellings),
variables, ``+ - * / // % **``, comparisons (``== != < <= > >= in``, chained),
``and or not``, ``a if c else b``, indexing (``x[0]``, ``x["k"]``), ``x.k`` for a key of
an object, list and object literals, and the functions in :data:`FUNCTIONS`. No
attribute of a Python object, no import, no comprehension, no lambda: anything else is
refused when the expression is checked, before a run starts.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

MAX_LENGTH = 2000
MAX_POWER = 1000
MAX_SEQUENCE = 100_000


class ExpressionError(ValueError):
    """The expression is not valid, or failed while it was evaluated."""


def _round(value: Any, digits: Any = 0) -> Any:
    return round(value, int(digits))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": _round,
    "len": len,
    "sum": sum,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "floor": math.floor,
    "ceil": math.ceil,
    "sqrt": math.sqrt,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "contains": lambda haystack, needle: needle in haystack,
}

CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None, "pi": math.pi}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ALLOWED = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Subscript,
    ast.Attribute,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Call,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    *_BINARY,
    *_COMPARE,
)


@lru_cache(maxsize=1024)
def compile_expression(source: str) -> ast.Expression:
    """Parse and check ``source``; :class:`ExpressionError` names what is not allowed."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("The expression is empty.")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"The expression is longer than {MAX_LENGTH} characters.")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"Syntax error: {exc.msg}.") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression.")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords
        ):
            raise ExpressionError(f"Only these functions may be called: {sorted(FUNCTIONS)}.")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError("Keys starting with an underscore are not allowed.")
    return tree


def evaluate(source: str, variables: Mapping[str, Any]) -> Any:
    """The value of ``source`` with ``variables``; :class:`ExpressionError` on failure."""
    tree = compile_expression(source)
    try:
        return _eval(tree.body, variables)
    except ExpressionError:
        raise
    except (ArithmeticError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise ExpressionError(f"{type(exc).__name__}: {exc}") from None


def _eval(node: ast.expr, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in {"True", "False", "None"}:
            return {"True": True, "False": False, "None": None}[node.id]
        raise ExpressionError(f"Unknown variable {node.id!r}.")
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        too_big = isinstance(right, int | float) and abs(right) > MAX_POWER
        if isinstance(node.op, ast.Pow) and too_big:
            raise ExpressionError(f"Exponents are limited to {MAX_POWER}.")
        if isinstance(node.op, ast.Mult) and (
            isinstance(left, str | list) or isinstance(right, str | list)
        ):
            count = right if isinstance(left, str | list) else left
            seq = left if isinstance(left, str | list) else right
            if isinstance(count, int) and len(seq) * count > MAX_SEQUENCE:
                raise ExpressionError("The result would be too long.")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not value
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for item in node.values:
                result = _eval(item, env)
                if not result:
                    return result
            return result
        result = False
        for item in node.values:
            result = _eval(item, env)
            if result:
                return result
        return result
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, env)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env) else node.orelse, env)
    if isinstance(node, ast.Subscript):
        container = _eval(node.value, env)
        key = _eval(node.slice, env)
        if isinstance(container, dict | list | str):
            return container[key]
        raise ExpressionError("Only objects, lists and strings can be indexed.")
    if isinstance(node, ast.Attribute):
        container = _eval(node.value, env)
        if isinstance(container, dict):
            return container[node.attr]
        raise ExpressionError(f"Only objects have keys (.{node.attr}).")
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, env) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {
            _eval(k, env) if k is not None else None: _eval(v, env)
            for k, v in zip(node.keys, node.values, strict=True)
        }
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return FUNCTIONS[node.func.id](*(_eval(a, env) for a in node.args))
    raise ExpressionError(f"{type(node).__name__} is not allowed in an expression.")
