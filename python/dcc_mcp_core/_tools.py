"""``@server.tool()`` and ``@registry.tool()``: a tool from a typed Python function.

Why this lives in Python: reading a signature and its type hints is what the ``typing`` module is
for, and doing it once at registration costs nothing per call. The result is an ordinary
registration (``ToolRegistry.register`` plus a handler), so the schema is checked by the same Rust
registry, and the calls run through the same Rust dispatch as ``register_handler``.

What happens per call: the server validates the arguments against the schema built here, then the
wrapper turns ``Enum`` values and pydantic models back into their Python types, injects the
``ToolContext`` parameter, calls the function with keyword arguments, and maps its return value to
MCP content (see ``_result``).
"""

from __future__ import annotations

import collections.abc
import enum
import inspect
import logging
import sys
import typing
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from dcc_mcp_core._content import CALL_TOOL_RESULT_KEY, Audio, Image, Text, ToolResult

logger = logging.getLogger("dcc_mcp_core")

_NONE_TYPE = type(None)

try:  # pydantic is optional: models are supported when it is installed.
    import pydantic as _pydantic

    _BaseModel: Optional[type] = _pydantic.BaseModel
except ImportError:  # pragma: no cover - depends on the environment
    _BaseModel = None

_UNION_TYPES: Tuple[Any, ...] = (Union,)
if sys.version_info >= (3, 10):
    import types as _types

    _UNION_TYPES = (Union, _types.UnionType)


class _Param:
    """How one function parameter is fed from the call's arguments."""

    __slots__ = ("name", "convert")

    def __init__(self, name: str, convert: Optional[Callable[[Any], Any]]) -> None:
        self.name = name
        self.convert = convert


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__") and hasattr(tp, "__annotations__")


def _is_model(tp: Any) -> bool:
    return _BaseModel is not None and isinstance(tp, type) and issubclass(tp, _BaseModel)


def _hoist_defs(schema: Dict[str, Any], defs: Dict[str, Any]) -> Dict[str, Any]:
    """Moves a pydantic schema's ``$defs`` to the tool schema's root, where its ``#/$defs/…`` refs point."""
    inner = schema.pop("$defs", None)
    if inner:
        defs.update(inner)
    return schema


class _SchemaError(TypeError):
    pass


def _schema(tp: Any, where: str, defs: Dict[str, Any]) -> Tuple[Dict[str, Any], Optional[Callable[[Any], Any]]]:
    """The JSON Schema of annotation ``tp``, and a converter from the JSON value to ``tp`` (or None)."""
    if tp is Any or tp is inspect.Parameter.empty:
        return {}, None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        schema, convert = _schema(args[0], where, defs)
        described = [m for m in args[1:] if isinstance(m, str)]
        if described:
            schema = dict(schema, description=described[0])
        return schema, convert
    if tp is _NONE_TYPE or tp is None:
        return {"type": "null"}, None
    if tp is bool:
        return {"type": "boolean"}, None
    if tp is int:
        return {"type": "integer"}, None
    if tp is float:
        return {"type": "number"}, float
    if tp is str:
        return {"type": "string"}, None
    if origin is typing.Literal:
        values = list(args)
        schema: Dict[str, Any] = {"enum": values}
        kinds = {type(v) for v in values}
        names = {bool: "boolean", int: "integer", str: "string", float: "number", _NONE_TYPE: "null"}
        if len(kinds) == 1 and next(iter(kinds)) in names:
            schema["type"] = names[next(iter(kinds))]
        return schema, None
    if origin in _UNION_TYPES:
        parts = [_schema(a, where, defs) for a in args]
        converters = [(a, c) for a, (_, c) in zip(args, parts) if c is not None]
        convert: Optional[Callable[[Any], Any]] = None
        if converters:
            def convert(value: Any, _converters: Any = converters) -> Any:
                if value is None:
                    return None
                for _tp, c in _converters:
                    try:
                        return c(value)
                    except (ValueError, TypeError):
                        continue
                return value
        return {"anyOf": [s for s, _ in parts]}, convert
    if origin in (list, tuple, set, frozenset, collections.abc.Sequence) or tp in (list, tuple):
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            items = [_schema(a, where, defs) for a in args]
            schema = {"type": "array", "prefixItems": [s for s, _ in items], "minItems": len(args),
                      "maxItems": len(args)}
            return schema, tuple
        item_tp = args[0] if args else Any
        item_schema, item_convert = _schema(item_tp, where, defs)
        schema = {"type": "array", "items": item_schema}
        if origin in (set, frozenset):
            schema["uniqueItems"] = True
        container = origin if origin in (tuple, set, frozenset) else list  # a Sequence gets a list
        if item_convert is None and container is list:
            return schema, None
        return schema, (lambda value, c=item_convert, k=container: k(c(v) for v in value) if c else k(value))
    if origin in (dict, collections.abc.Mapping) or tp is dict:
        key_tp, value_tp = (args + (Any, Any))[:2] if args else (str, Any)
        if key_tp is not str:
            raise _SchemaError(f"{where}: dict keys must be str (JSON object keys are strings), got {key_tp!r}")
        value_schema, value_convert = _schema(value_tp, where, defs)
        schema = {"type": "object"}
        if value_schema:
            schema["additionalProperties"] = value_schema
        if value_convert is None:
            return schema, None
        return schema, (lambda value, c=value_convert: {k: c(v) for k, v in value.items()})
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [member.value for member in tp]
        return _schema(typing.Literal[tuple(values)], where, defs)[0], tp  # type: ignore[misc]
    if _is_model(tp):
        schema = _hoist_defs(tp.model_json_schema(ref_template="#/$defs/{model}"), defs)
        return schema, tp.model_validate
    if _is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        required = set(getattr(tp, "__required_keys__", hints if tp.__total__ else ()))
        props: Dict[str, Any] = {}
        converters: Dict[str, Callable[[Any], Any]] = {}
        for key, hint in hints.items():
            props[key], c = _schema(hint, f"{where}.{key}", defs)
            if c is not None:
                converters[key] = c
        schema = {"type": "object", "properties": props, "additionalProperties": False}
        req = [k for k in hints if k in required]
        if req:
            schema["required"] = req
        if not converters:
            return schema, None
        return schema, (lambda value, cs=converters: {k: cs[k](v) if k in cs else v for k, v in value.items()})
    raise _SchemaError(
        f"{where}: cannot build a JSON Schema for the type hint {tp!r}; use int, float, str, bool, "
        "list[...], dict[str, ...], Literal, Optional, an Enum, a TypedDict or a pydantic model, "
        "or pass input_schema= explicitly"
    )


def _json_default(value: Any) -> Tuple[bool, Any]:
    """A parameter default as JSON, when it is plain data (else it is left out of the schema)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        return True, value
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return True, list(value)
    return False, None


def build_signature(fn: Callable[..., Any], tool: str,
                    localns: Optional[Mapping[str, Any]] = None) -> Tuple[Dict[str, Any], List[_Param], Optional[str]]:
    """The input schema of ``fn``, how to feed each parameter, and the name of its context parameter.

    ``localns``: the namespace of the code that applied the decorator, so that string annotations
    (``from __future__ import annotations``) naming classes local to a function resolve too."""
    from dcc_mcp_core._core import ToolContext

    try:
        hints = typing.get_type_hints(fn, localns=dict(localns) if localns else None, include_extras=True)
    except Exception as e:  # NameError for an unresolvable forward reference, among others
        raise TypeError(f"tool {tool!r}: cannot resolve the type hints of {fn.__qualname__}: {e}") from e
    properties: Dict[str, Any] = {}
    required: List[str] = []
    params: List[_Param] = []
    context_param: Optional[str] = None
    defs: Dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {tool!r}: *{p.name} / **{p.name} cannot be described by a schema; "
                            "name each argument")
        if p.kind is p.POSITIONAL_ONLY:
            raise TypeError(f"tool {tool!r}: parameter {p.name!r} is positional-only; tools are called "
                            "with keyword arguments")
        hint = hints.get(p.name, inspect.Parameter.empty)
        # `Optional[ToolContext]` too: before 3.11, `ctx: ToolContext = None` reads as that.
        if hint is ToolContext or (typing.get_origin(hint) in _UNION_TYPES and ToolContext in typing.get_args(hint)):
            context_param = p.name
            continue
        try:
            schema, convert = _schema(hint, f"tool {tool!r}, parameter {p.name!r}", defs)
        except _SchemaError as e:
            raise TypeError(str(e)) from None
        if p.default is p.empty:
            required.append(p.name)
        else:
            ok, default = _json_default(p.default)
            if ok:
                schema = dict(schema, default=default)
        properties[p.name] = schema
        params.append(_Param(p.name, convert))
    input_schema: Dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required
    input_schema["additionalProperties"] = False
    if defs:
        input_schema["$defs"] = defs
    return input_schema, params, context_param


def _block(item: Any) -> Optional[Dict[str, Any]]:
    if isinstance(item, (Text, Image, Audio)):
        return item.to_block()
    return None


def _result(value: Any, mime_type: Optional[str], tool: str) -> Any:
    """Maps a decorated function's return value to what the server sends.

    ``str`` → text; ``dict`` → ``structuredContent`` plus its JSON as text; ``list``/``tuple`` →
    ``structuredContent`` ``{"result": [...]}`` plus text; ``bytes`` with the decorator's
    ``mime_type`` (``image/*`` or ``audio/*``), ``Image``, ``Audio``, ``Text`` → one content block; a
    list of those → those blocks; ``ToolResult`` → as is; ``None`` → no content.
    """
    if isinstance(value, ToolResult):
        return value.to_value()
    block = _block(value)
    if block is not None:
        return ToolResult([block]).to_value()
    if isinstance(value, (bytes, bytearray, memoryview)):
        if mime_type is None:
            raise TypeError(f"tool {tool!r} returned bytes: give the decorator a mime_type "
                            "(e.g. mime_type=\"image/png\"), or return Image(...) / Audio(...)")
        helper = Image if mime_type.startswith("image/") else Audio
        return ToolResult([helper(bytes(value), mime_type).to_block()]).to_value()
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (Text, Image, Audio)) for v in value):
            return ToolResult([v.to_block() for v in value]).to_value()
        return {"result": list(value)}
    if value is None:
        return ToolResult([]).to_value()
    if isinstance(value, dict) and CALL_TOOL_RESULT_KEY in value:
        raise ValueError(f"tool {tool!r} returned a dict with the reserved key {CALL_TOOL_RESULT_KEY!r}; "
                         "return ToolResult(...) for a complete result")
    return value


def _wrap(fn: Callable[..., Any], tool: str, params: List[_Param], context_param: Optional[str],
          mime_type: Optional[str]) -> Callable[[Dict[str, Any], Any], Any]:
    def handler(arguments: Dict[str, Any], context: Any) -> Any:
        kwargs: Dict[str, Any] = {}
        for param in params:
            if param.name in arguments:
                value = arguments[param.name]
                kwargs[param.name] = param.convert(value) if param.convert is not None and value is not None else value
        if context_param is not None:
            kwargs[context_param] = context
        return _result(fn(**kwargs), mime_type, tool)

    handler.__name__ = getattr(fn, "__name__", "handler")
    handler.__qualname__ = getattr(fn, "__qualname__", handler.__name__)
    handler.__wrapped__ = fn  # type: ignore[attr-defined]
    return handler


def _check_mime(tool: str, mime_type: Optional[str]) -> None:
    if mime_type is not None and not mime_type.startswith(("image/", "audio/")):
        raise ValueError(f"tool {tool!r}: mime_type must be an image/* or audio/* type, got {mime_type!r}")


def _spec(fn: Callable[..., Any], name: Optional[str], description: Optional[str],
          input_schema: Optional[Mapping[str, Any]],
          localns: Optional[Mapping[str, Any]]) -> Tuple[str, str, Dict[str, Any], List[_Param], Optional[str]]:
    if not callable(fn):
        raise TypeError(f"@tool() decorates a function, got {type(fn).__name__}")
    tool = name if name is not None else getattr(fn, "__name__", None)
    if not tool:
        raise TypeError("@tool(): this callable has no __name__; pass name=")
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(
            f"tool {tool!r}: async def handlers are not supported; use a plain def. A handler already "
            "runs on a server worker thread (or on the host's main thread inside pump()), so blocking "
            "is fine; to call a coroutine from it, use asyncio.run(...)"
        )
    schema, params, context_param = build_signature(fn, tool, localns)
    if input_schema is not None:
        schema = dict(input_schema)
    doc = inspect.getdoc(fn) if description is None else description
    return tool, doc or "", schema, params, context_param


def tool_decorator(target: Any, is_server: bool, name: Optional[str], title: Optional[str],
                   description: Optional[str], annotations: Optional[Mapping[str, bool]],
                   main_thread: Optional[bool], execution: str, input_schema: Optional[Mapping[str, Any]],
                   output_schema: Optional[Mapping[str, Any]], mime_type: Optional[str]) -> Callable[[Any], Any]:
    """The decorator behind ``McpHttpServer.tool`` and ``ToolRegistry.tool`` (``target`` is the object)."""
    registry = target.registry if is_server else target

    def decorate(fn: Any) -> Any:
        caller = sys._getframe(1)  # the code applying the decorator, for its local classes
        tool, doc, schema, params, context_param = _spec(fn, name, description, input_schema, caller.f_locals)
        del caller
        _check_mime(tool, mime_type)
        handler = _wrap(fn, tool, params, context_param, mime_type)
        registry.register(tool, description=doc, input_schema=schema, output_schema=output_schema,
                          execution=execution, title=title, annotations=annotations)
        try:
            if is_server:
                target.register_handler(tool, handler, pass_context=True, main_thread=main_thread)
            else:
                registry._set_handler(tool, handler, main_thread=bool(main_thread))
        except BaseException:
            registry.unregister(tool)
            raise
        return fn

    return decorate
