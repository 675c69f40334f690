"""The built-in node types.

Every config model ignores unknown ``data`` fields (the editor keeps labels and UI state
there) and validates the rest. Outputs are dicts of port name to value.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from minibase.engine import net
from minibase.engine.expressions import ExpressionError, compile_expression, evaluate
from minibase.engine.json_path import PathError, apply_mapping, lookup, parse_path
from minibase.engine.node_types import EmptyConfig, NodeContext, NodeFailure, NodeType, Port

ANY: dict[str, Any] = {}
NUMBER = {"type": "number"}
STRING = {"type": "string"}
OBJECT = {"type": "object"}
ARRAY = {"type": "array"}
BOOLEAN = {"type": "boolean"}


class _Config(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _expression(value: str) -> str:
    try:
        compile_expression(value)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    return value


def _path(value: str) -> str:
    try:
        parse_path(value)
    except PathError as exc:
        raise ValueError(str(exc)) from None
    return value


# --- input, constant, output ----------------------------------------------------------


class InputConfig(_Config):
    source: Literal["inputs", "payload"] = "inputs"
    name: str | None = Field(None, description="Key of the run's inputs (all of them if unset).")
    default: Any = None


def _input(config: InputConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
    if config.source == "payload":
        value = ctx.payload
    elif config.name is None:
        value = dict(ctx.run_inputs)
    else:
        value = ctx.run_inputs.get(config.name, config.default)
    return {"value": value if value is not None else config.default}


class ConstantConfig(_Config):
    value: Any = None


def _constant(config: ConstantConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    return {"value": config.value}


def _output(config: EmptyConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    return {"value": inputs.get("value")}


# --- text, JSON --------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


class TemplateConfig(_Config):
    template: str = Field(..., max_length=100_000)


def _template(config: TemplateConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    values = inputs.get("values")

    def fill(match: re.Match[str]) -> str:
        found = lookup(values, match.group(1) or "$")
        if found is None:
            return ""
        return found if isinstance(found, str) else orjson.dumps(found).decode()

    return {"text": _PLACEHOLDER.sub(fill, config.template)}


class JsonPathConfig(_Config):
    path: str

    _check = field_validator("path")(_path)


def _json_path(config: JsonPathConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    return {"value": lookup(inputs.get("value"), config.path)}


class TransformConfig(_Config):
    mapping: dict[str, str] = Field(..., description="Output key to JSON path of the input.")

    @field_validator("mapping")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        for path in value.values():
            _path(path)
        return value


def _transform(config: TransformConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    return {"value": apply_mapping(inputs.get("value"), config.mapping)}


# --- math, condition, merge, filter, map -------------------------------------------------


class ExpressionConfig(_Config):
    expression: str

    _check = field_validator("expression")(_expression)


def _variables(inputs: Mapping[str, Any]) -> dict[str, Any]:
    values = inputs.get("values")
    env = dict(values) if isinstance(values, Mapping) else {}
    env.setdefault("value", inputs.get("value", values))
    return env


def _eval(expression: str, env: Mapping[str, Any]) -> Any:
    try:
        return evaluate(expression, env)
    except ExpressionError as exc:
        raise NodeFailure(str(exc), "expression_error") from None


def _math(config: ExpressionConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    result = _eval(config.expression, _variables(inputs))
    if not isinstance(result, int | float) or isinstance(result, bool):
        raise NodeFailure("The expression did not give a number.", "expression_error")
    return {"value": result}


def _condition(config: ExpressionConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    value = inputs.get("value")
    taken = "true" if _eval(config.expression, _variables(inputs)) else "false"
    return {taken: value}


class MergeConfig(_Config):
    mode: Literal["first", "list", "object"] = "first"


def _merge(config: MergeConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    items = list(inputs.get("items") or [])
    if config.mode == "list":
        return {"value": items}
    if config.mode == "object":
        merged: dict[str, Any] = {}
        for item in items:
            if isinstance(item, Mapping):
                merged.update(item)
        return {"value": merged}
    return {"value": items[0] if items else None}


def _items(inputs: Mapping[str, Any]) -> list[Any]:
    items = inputs.get("items")
    if not isinstance(items, list):
        raise NodeFailure("The input `items` must be a list.", "invalid_input")
    return items


def _filter(config: ExpressionConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    return {
        "items": [
            item
            for index, item in enumerate(_items(inputs))
            if _eval(config.expression, {"item": item, "index": index})
        ]
    }


def _map(config: ExpressionConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    return {
        "items": [
            _eval(config.expression, {"item": item, "index": index})
            for index, item in enumerate(_items(inputs))
        ]
    }


# --- HTTP, delay ------------------------------------------------------------------------


class HttpConfig(_Config):
    url: str = Field(..., max_length=4096)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeoutSeconds: float = Field(10.0, gt=0, le=120)
    maxBytes: int = Field(1024 * 1024, ge=1, le=10 * 1024 * 1024)
    mapping: dict[str, str] | None = Field(
        None, description="Output key to JSON path of the response body (the seed's mapping)."
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("An http:// or https:// URL.")
        return value

    @field_validator("mapping")
    @classmethod
    def _paths(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for path in (value or {}).values():
            _path(path)
        return value


async def _http(config: HttpConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    body = inputs.get("body", config.body)
    headers = dict(config.headers)
    content = None
    if body is not None and config.method not in {"GET", "HEAD"}:
        content = body.encode() if isinstance(body, str) else orjson.dumps(body)
        if not isinstance(body, str):
            headers.setdefault("Content-Type", "application/json")
    try:
        result = await net.fetch(
            config.method,
            config.url,
            headers=headers,
            content=content,
            timeout=config.timeoutSeconds,
            max_bytes=config.maxBytes,
            allow_private=ctx.allow_private_addresses,
        )
    except net.BlockedAddress as exc:
        raise NodeFailure(str(exc), "blocked_address") from None
    except net.ResponseTooLarge as exc:
        raise NodeFailure(str(exc), "response_too_large") from None
    except TimeoutError:
        raise NodeFailure(f"No response within {config.timeoutSeconds} s.", "timeout") from None
    except httpx.HTTPError as exc:
        raise NodeFailure(f"The request failed: {type(exc).__name__}.", "http_error") from None
    decoded = net.decode_body(result)
    if config.mapping is not None:
        decoded = apply_mapping(decoded, config.mapping)
    return {"response": {"status": result.status, "body": decoded}, "body": decoded}


class DelayConfig(_Config):
    seconds: float = Field(..., ge=0, le=3600)


async def _delay(config: DelayConfig, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    await asyncio.sleep(config.seconds)
    return {"value": inputs.get("value")}


def _node(
    type_: str,
    category: str,
    title: str,
    description: str,
    inputs: tuple[Port, ...],
    outputs: tuple[Port, ...],
    config: type[BaseModel],
    process: Any,
    **options: Any,
) -> NodeType:
    return NodeType(
        type=type_,
        version=1,
        category=category,
        title=title,
        description=description,
        inputs=inputs,
        outputs=outputs,
        config=config,
        process=process,
        **options,
    )


VALUE_OUT = (Port("value", ANY),)

BUILTINS: tuple[NodeType, ...] = (
    _node(
        "input",
        "io",
        "Input",
        "A value of the run's inputs, or the trigger payload (a webhook's JSON body).",
        (),
        VALUE_OUT,
        InputConfig,
        _input,
        uses_trigger=True,
    ),
    _node("constant", "io", "Constant", "A fixed value.", (), VALUE_OUT, ConstantConfig, _constant),
    _node(
        "output",
        "io",
        "Output",
        "The result of the flow (passes its input through).",
        (Port("value", ANY, required=False),),
        VALUE_OUT,
        EmptyConfig,
        _output,
    ),
    _node(
        "template",
        "text",
        "Text template",
        "Text with `{{ path }}` placeholders filled from the input object.",
        (Port("values", ANY, required=False),),
        (Port("text", STRING),),
        TemplateConfig,
        _template,
    ),
    _node(
        "json_path",
        "data",
        "JSON path",
        "The value at a JSON path (`$.items[0].name`) of the input.",
        (Port("value", ANY),),
        VALUE_OUT,
        JsonPathConfig,
        _json_path,
    ),
    _node(
        "transform",
        "data",
        "Transform",
        "A new object: each key of `mapping` takes the value at its JSON path of the input.",
        (Port("value", ANY),),
        (Port("value", OBJECT),),
        TransformConfig,
        _transform,
    ),
    _node(
        "math",
        "logic",
        "Math expression",
        "A number computed by a safe expression over the input object's keys (and `value`).",
        (Port("values", ANY, required=False),),
        (Port("value", NUMBER),),
        ExpressionConfig,
        _math,
    ),
    _node(
        "condition",
        "logic",
        "Condition",
        "Passes its input to `true` or `false` by an expression; the other branch is skipped.",
        (Port("value", ANY, required=False), Port("values", OBJECT, required=False)),
        (Port("true", ANY), Port("false", ANY)),
        ExpressionConfig,
        _condition,
    ),
    _node(
        "merge",
        "logic",
        "Merge",
        "Joins branches: the first value that arrived, all of them as a list, or one object.",
        (Port("items", ANY, required=False, multiple=True),),
        VALUE_OUT,
        MergeConfig,
        _merge,
    ),
    _node(
        "filter",
        "data",
        "Filter",
        "The items of a list for which an expression over `item` (and `index`) is true.",
        (Port("items", ARRAY),),
        (Port("items", ARRAY),),
        ExpressionConfig,
        _filter,
    ),
    _node(
        "map",
        "data",
        "Map",
        "Each item of a list replaced by an expression over `item` (and `index`).",
        (Port("items", ARRAY),),
        (Port("items", ARRAY),),
        ExpressionConfig,
        _map,
    ),
    _node(
        "http_request",
        "integration",
        "HTTP request",
        "Calls a URL (timeouts, a size cap, no private addresses) and maps the response.",
        (Port("body", ANY, required=False),),
        (Port("body", ANY), Port("response", OBJECT)),
        HttpConfig,
        _http,
        idempotent=False,
        timeout_seconds=130.0,
    ),
    _node(
        "delay",
        "control",
        "Delay",
        "Waits, then passes its input through.",
        (Port("value", ANY, required=False),),
        VALUE_OUT,
        DelayConfig,
        _delay,
        idempotent=False,
        timeout_seconds=3700.0,
    ),
)
