"""``@server.resource(uri)`` and ``@server.prompt()``: MCP resources and prompts from typed functions.

Why this lives in Python: like ``@server.tool()`` (``_tools``), reading a signature is what
``inspect`` and ``typing`` are for, and it happens once, at registration. The result is an entry of
the server's Rust catalog (``McpHttpServer._add_resource`` / ``_add_prompt``) whose reader calls the
wrapper built here on a server Python thread or, in a DCC, on the host's main thread inside
``pump()`` — the same places and the same rules as tool handlers.

Per read, the wrapper turns the URI template's variables (or the prompt's arguments, always strings
on the wire) into the function's keyword arguments, converting to ``int``/``float``/``bool`` when the
parameter says so, passes the read's ``ToolContext`` to a parameter annotated with it (as
``@server.tool()`` does), and maps the return value to what the catalog sends (see ``_contents`` and
``_messages``). ``complete=`` is a mapping of static values (answered in Rust, without the GIL) or a
function of the live data, wrapped like a reader so that it runs in the same place.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
import sys
import typing
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from dcc_mcp_core._content import Audio, Image, Text

_UNIONS: Tuple[Any, ...] = (typing.Union,)
if sys.version_info >= (3, 10):
    import types as _types

    _UNIONS = (typing.Union, _types.UnionType)

#: The variables of an RFC 6570 expression: ``{name}``, ``{+path}``, ``{?a,b}``, ``{list*}``, ``{x:3}``.
_EXPRESSION = re.compile(r"\{([+#./;?&]?)([^}]*)\}")


def template_variables(uri: str) -> List[str]:
    """The variable names of URI template ``uri``, in order (empty for a plain URI)."""
    names: List[str] = []
    for _operator, body in _EXPRESSION.findall(uri):
        for part in body.split(","):
            name = part.strip().rstrip("*").split(":", 1)[0]
            if name and name not in names:
                names.append(name)
    return names


def _from_string(hint: Any, where: str) -> Optional[Callable[[str], Any]]:
    """How a string from the wire becomes the parameter's value (``None``: it stays a string)."""
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    args = typing.get_args(hint)
    if typing.get_origin(hint) in _UNIONS and type(None) in args and len(args) == 2:
        hint = next(a for a in args if a is not type(None))
    if hint in (str, Any, inspect.Parameter.empty):
        return None
    if hint is int:
        return int
    if hint is float:
        return float
    if hint is bool:
        return lambda text: text.strip().lower() in ("1", "true", "yes", "on")
    raise TypeError(f"{where}: values arrive as strings; annotate it str, int, float or bool, got {hint!r}")


def _description(hint: Any) -> Optional[str]:
    if typing.get_origin(hint) is typing.Annotated:
        described = [m for m in typing.get_args(hint)[1:] if isinstance(m, str)]
        if described:
            return described[0]
    return None


def _is_context(hint: Any) -> bool:
    """Whether ``hint`` is ``ToolContext`` or ``Optional[ToolContext]`` (the parameter that gets the
    request's context rather than a URI variable or a prompt argument)."""
    from dcc_mcp_core._core import ToolContext

    return hint is ToolContext or (typing.get_origin(hint) in _UNIONS and ToolContext in typing.get_args(hint))


def _parameters(fn: Callable[..., Any], what: str,
                localns: Optional[Mapping[str, Any]]) -> Tuple[List[Tuple[inspect.Parameter, Any]], Optional[str]]:
    if not callable(fn):
        raise TypeError(f"{what}: the decorator needs a function, got {type(fn).__name__}")
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"{what}: async def is not supported; use a plain def (it already runs on a "
                        "server thread, or on the host's main thread inside pump())")
    try:
        hints = typing.get_type_hints(fn, localns=dict(localns) if localns else None, include_extras=True)
    except Exception as e:  # NameError for an unresolvable forward reference, among others
        raise TypeError(f"{what}: cannot resolve the type hints of {fn.__qualname__}: {e}") from e
    params = []
    context: Optional[str] = None
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise TypeError(f"{what}: parameter {p.name!r} must be an ordinary named parameter "
                            "(it is passed by keyword)")
        hint = hints.get(p.name, inspect.Parameter.empty)
        if _is_context(hint):
            if context is not None:
                raise TypeError(f"{what}: two ToolContext parameters ({context!r}, {p.name!r})")
            context = p.name
            continue
        params.append((p, hint))
    return params, context


def _kwargs(arguments: Dict[str, Any], converters: Dict[str, Optional[Callable[[str], Any]]]) -> Dict[str, Any]:
    kwargs: Dict[str, Any] = {}
    for name, convert in converters.items():
        if name in arguments:
            value = arguments[name]
            kwargs[name] = convert(value) if convert is not None and isinstance(value, str) else value
    return kwargs


def _contents(value: Any, what: str) -> Dict[str, Any]:
    """A resource function's return value as ``{"text": …}`` or ``{"blob": base64}``.

    ``str`` → text; ``bytes`` or an ``Image`` / ``Audio`` → binary; ``dict`` / ``list`` → its JSON as
    text; ``Text`` → its text."""
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, Text):
        return {"text": value.text}
    if isinstance(value, (Image, Audio)):
        value = value.data
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"blob": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (dict, list, tuple)):
        return {"text": json.dumps(value)}
    raise TypeError(f"{what} returned {type(value).__name__}: return str, bytes, Image, Audio, "
                    "or JSON data (dict, list)")


def _block(content: Any, what: str) -> Dict[str, Any]:
    if isinstance(content, str):
        return {"type": "text", "text": content}
    if isinstance(content, (Text, Image, Audio)):
        return content.to_block()
    if isinstance(content, dict) and "type" in content:
        return content
    raise TypeError(f"{what}: message content must be str, Text, Image, Audio or an MCP content "
                    f"block dict, got {type(content).__name__}")


def _message(item: Any, what: str) -> Dict[str, Any]:
    if isinstance(item, dict) and "role" in item:
        role = item["role"]
        if role not in ("user", "assistant"):
            raise ValueError(f"{what}: a message role is 'user' or 'assistant', got {role!r}")
        return {"role": role, "content": _block(item.get("content", ""), what)}
    return {"role": "user", "content": _block(item, what)}


def _messages(value: Any, what: str) -> Dict[str, Any]:
    """A prompt function's return value as a ``GetPromptResult``.

    ``str``, ``Text``, ``Image``, ``Audio`` → one user message; ``{"role": "user"|"assistant",
    "content": …}`` → that message; a list of those → those messages, in order."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return {"messages": [_message(item, what) for item in items]}


def _wrap(fn: Callable[..., Any], converters: Dict[str, Optional[Callable[[str], Any]]],
          finish: Callable[[Any, str], Dict[str, Any]], what: str,
          context_param: Optional[str]) -> Callable[[Dict[str, Any], Any], Dict[str, Any]]:
    def handler(arguments: Dict[str, Any], context: Any) -> Dict[str, Any]:
        kwargs = _kwargs(arguments, converters)
        if context_param is not None:
            kwargs[context_param] = context
        return finish(fn(**kwargs), what)

    handler.__name__ = getattr(fn, "__name__", "handler")
    handler.__qualname__ = getattr(fn, "__qualname__", handler.__name__)
    handler.__wrapped__ = fn  # type: ignore[attr-defined]
    return handler


def _put(spec: Dict[str, Any], **fields: Optional[str]) -> Dict[str, Any]:
    spec.update({k: v for k, v in fields.items() if v})
    return spec


#: ``complete=fn``: ``fn(argument, value, context)`` gets the name of the argument (or template
#: variable) being completed, what the client typed so far, and the values of the entry's other
#: arguments the client already chose (``{name: value}``); it returns the candidate values.
CompletionFunction = Callable[[str, str, Dict[str, str]], Any]


def _completion_handler(fn: CompletionFunction, what: str) -> Callable[[Dict[str, Any], Any], List[str]]:
    """The server-side wrapper of ``complete=fn``: checks that it returned strings."""

    def handler(request: Dict[str, Any], _context: Any) -> List[str]:
        values = fn(request["argument"], request["value"], dict(request.get("context") or {}))
        if isinstance(values, (str, bytes)) or not isinstance(values, typing.Iterable):
            raise TypeError(f"{what}: complete= returned {type(values).__name__}; return a list of str")
        values = list(values)
        wrong = [v for v in values if not isinstance(v, str)]
        if wrong:
            raise TypeError(f"{what}: complete= returned a {type(wrong[0]).__name__} among its values; "
                            "return a list of str")
        return values

    handler.__name__ = getattr(fn, "__name__", "complete")
    handler.__qualname__ = getattr(fn, "__qualname__", handler.__name__)
    handler.__wrapped__ = fn  # type: ignore[attr-defined]
    return handler


def _is_completion_function(complete: Any) -> bool:
    return callable(complete) and not isinstance(complete, Mapping)


def _check_completions(complete: Any, names: List[str], what: str) -> None:
    """Refuses a wrong ``complete=`` before the entry is served."""
    if complete is None:
        return
    if _is_completion_function(complete):
        if inspect.iscoroutinefunction(complete):
            raise TypeError(f"{what}: complete= must be a plain def, not async def")
        if not names:
            raise ValueError(f"{what}: complete= was given, but there are no arguments to complete")
        return
    if not isinstance(complete, Mapping):
        raise TypeError(f"{what}: complete= must be a mapping of argument to values, or a function "
                        f"(argument, value, context) -> list of str; got {type(complete).__name__}")
    _completions(complete, names, what)


def _add_completions(server: Any, reference: str, complete: Any, names: List[str], what: str,
                     prompt: bool, main_thread: Optional[bool]) -> None:
    """Registers ``complete=`` (checked by ``_check_completions``) for entry ``reference``."""
    if complete is None:
        return
    if _is_completion_function(complete):
        server._add_completion_fn(reference, names, _completion_handler(complete, what), prompt=prompt,
                                  main_thread=main_thread)
        return
    for argument, values in _completions(complete, names, what).items():
        server._add_completion(reference, argument, values, prompt=prompt)


def _completions(complete: Mapping[str, Any], names: List[str], what: str) -> Dict[str, List[str]]:
    """``complete={"argument": ["value", …]}``, checked against the entry's arguments."""
    if not complete:
        return {}
    checked: Dict[str, List[str]] = {}
    for argument, values in complete.items():
        if argument not in names:
            raise ValueError(f"{what}: complete= names {argument!r}, which is not one of its arguments "
                             f"({', '.join(names) or 'none'})")
        if isinstance(values, str) or not all(isinstance(v, str) for v in values):
            raise TypeError(f"{what}: complete[{argument!r}] must be a list of str")
        checked[argument] = list(values)
    return checked


def resource_decorator(server: Any, uri: str, name: Optional[str], title: Optional[str],
                       description: Optional[str], mime_type: Optional[str],
                       main_thread: Optional[bool], complete: Any = None) -> Callable[[Any], Any]:
    """The decorator behind ``McpHttpServer.resource``."""
    variables = template_variables(uri)

    def decorate(fn: Any) -> Any:
        caller = sys._getframe(1)
        what = f"resource {uri!r}"
        params, context_param = _parameters(fn, what, caller.f_locals)
        del caller
        converters: Dict[str, Optional[Callable[[str], Any]]] = {}
        for p, hint in params:
            if p.name not in variables:
                raise TypeError(f"{what}: parameter {p.name!r} is not a variable of the URI "
                                f"(variables: {', '.join(variables) or 'none'})")
            converters[p.name] = _from_string(hint, f"{what}, parameter {p.name!r}")
        _check_completions(complete, variables, what)
        missing = [v for v in variables if v not in converters]
        if missing:
            raise TypeError(f"{what}: the function has no parameter for the URI variable(s) "
                            f"{', '.join(missing)}")
        mime = mime_type
        if mime is None:
            try:
                returns = typing.get_type_hints(fn).get("return")
            except Exception:  # an unresolvable return hint only loses the MIME-type guess
                returns = None
            origin = typing.get_origin(returns) or returns
            if origin in (dict, list):
                mime = "application/json"
            elif returns is str:
                mime = "text/plain"
        key = "uriTemplate" if variables else "uri"
        spec = _put({key: uri, "name": name or getattr(fn, "__name__", uri)}, title=title,
                    description=description if description is not None else inspect.getdoc(fn),
                    mimeType=mime)
        server._add_resource(spec, _wrap(fn, converters, _contents, what, context_param),
                             template=bool(variables), main_thread=main_thread)
        _add_completions(server, uri, complete, variables, what, False, main_thread)
        return fn

    return decorate


def prompt_decorator(server: Any, name: Optional[str], title: Optional[str], description: Optional[str],
                     main_thread: Optional[bool], complete: Any = None) -> Callable[[Any], Any]:
    """The decorator behind ``McpHttpServer.prompt``."""

    def decorate(fn: Any) -> Any:
        prompt = name or getattr(fn, "__name__", None)
        if not prompt:
            raise TypeError("@prompt(): this callable has no __name__; pass name=")
        what = f"prompt {prompt!r}"
        caller = sys._getframe(1)
        params, context_param = _parameters(fn, what, caller.f_locals)
        del caller
        converters: Dict[str, Optional[Callable[[str], Any]]] = {}
        arguments: List[Dict[str, Any]] = []
        for p, hint in params:
            converters[p.name] = _from_string(hint, f"{what}, parameter {p.name!r}")
            argument: Dict[str, Any] = {"name": p.name, "required": p.default is p.empty}
            described = _description(hint)
            if described:
                argument["description"] = described
            arguments.append(argument)
        names = [a["name"] for a in arguments]
        _check_completions(complete, names, what)
        spec = _put({"name": prompt, "arguments": arguments}, title=title,
                    description=description if description is not None else inspect.getdoc(fn))
        server._add_prompt(spec, _wrap(fn, converters, _messages, what, context_param),
                           main_thread=main_thread)
        _add_completions(server, prompt, complete, names, what, True, main_thread)
        return fn

    return decorate
