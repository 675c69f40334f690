from __future__ import annotations

import pytest

from minibase.engine.expressions import ExpressionError, compile_expression, evaluate
from minibase.engine.json_path import lookup


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        ("a * 2 + b", {"a": 3, "b": 1}, 7),
        ("(a + b) / 2", {"a": 3, "b": 1}, 2.0),
        ("x > 3 and x < 10", {"x": 5}, True),
        ("1 < x <= 5", {"x": 5}, True),
        ("'big' if n > 100 else 'small'", {"n": 5}, "small"),
        ("item.price * item['qty']", {"item": {"price": 2, "qty": 3}}, 6),
        ("len(items) + max(1, 4)", {"items": [1, 2]}, 6),
        ("'a' in tags", {"tags": ["a"]}, True),
        ("not done", {"done": False}, True),
        ("round(2.567, 2)", {}, 2.57),
        ("true and null == None", {}, True),
        ("{'k': [1, 2][1]}", {}, {"k": 2}),
    ],
)
def test_evaluates(source: str, env: dict[str, object], expected: object) -> None:
    assert evaluate(source, env) == expected


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('true')",
        "().__class__.__bases__",
        "open('/etc/passwd')",
        "[x for x in range(10)]",
        "lambda: 1",
        "a.__dict__",
        "(yield 1)",
        "x := 1",
        "",
        "1 +",
    ],
)
def test_refuses_everything_else(source: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source)


def test_runtime_errors_and_limits() -> None:
    with pytest.raises(ExpressionError, match="ZeroDivisionError"):
        evaluate("1 / x", {"x": 0})
    with pytest.raises(ExpressionError, match="Exponents"):
        evaluate("10 ** 100000", {})
    with pytest.raises(ExpressionError, match="too long"):
        evaluate("'a' * 10000000", {})
    with pytest.raises(ExpressionError, match="Unknown variable"):
        evaluate("nope + 1", {})


def test_json_path() -> None:
    value = {"items": [{"name": "a"}, {"name": "b"}], "n": {"x.y": 1}}
    assert lookup(value, "$.items[1].name") == "b"
    assert lookup(value, "items.0.name") == "a"
    assert lookup(value, "$.items[-1].name") == "b"
    assert lookup(value, '$.n["x.y"]') == 1
    assert lookup(value, "$.missing.deeper") is None
    assert lookup(value, "$") == value
