"""Type stubs for the ``dcc_mcp_core._core`` extension module (pyo3)."""

import os
from types import TracebackType
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union, final, overload

from dcc_mcp_core._content import Audio, Image, Text, ToolAnnotations, ToolResult

__all__ = [
    "FEATURES",
    "MainThreadExecutor",
    "McpHttpConfig",
    "McpHttpServer",
    "McpServerHandle",
    "ToolContext",
    "ToolRegistry",
    "__version__",
]

__version__: str
#: Cargo features compiled into this build, e.g. ``("python-bindings", "ext-module", "workflow", "prometheus")``.
FEATURES: Tuple[str, ...]

_JsonSchema = Union[Dict[str, Any], str]

#: What a handler may return: JSON data (``str`` → text; ``dict``/``list`` → structured content plus
#: text), ``bytes`` (with the decorator's ``mime_type``), a content helper, a list of them, or a
#: complete ``ToolResult``. A coroutine (``async def``), a ``set`` or an arbitrary object is not.
_ToolReturn = Union[
    None, bool, int, float, str, bytes, Mapping[str, Any], Sequence[Any], Image, Audio, Text, ToolResult
]
_ToolFunction = TypeVar("_ToolFunction", bound=Callable[..., _ToolReturn])

#: What a resource function may return: ``str`` or ``Text`` (text contents), ``bytes``, ``Image`` or
#: ``Audio`` (binary contents), or JSON data (sent as its JSON text).
_ResourceReturn = Union[str, bytes, Text, Image, Audio, Mapping[str, Any], Sequence[Any]]
_ResourceFunction = TypeVar("_ResourceFunction", bound=Callable[..., _ResourceReturn])
#: One prompt message: its content alone (a user message), or ``{"role": ..., "content": ...}``.
_PromptItem = Union[str, Text, Image, Audio, Mapping[str, Any]]
_PromptReturn = Union[_PromptItem, Sequence[_PromptItem]]
_PromptFunction = TypeVar("_PromptFunction", bound=Callable[..., _PromptReturn])
#: ``complete=fn`` of ``resource()`` / ``prompt()``: ``fn(argument, value, context)`` gets the name
#: being completed, what the client typed so far and the arguments it already chose; it returns the
#: candidate values.
_CompletionFunction = Callable[[str, str, Dict[str, str]], Sequence[str]]
_Completion = Union[Mapping[str, Sequence[str]], _CompletionFunction]
_Handler = Callable[[Dict[str, Any]], _ToolReturn]
_ContextHandler = Callable[[Dict[str, Any], "ToolContext"], _ToolReturn]

@final
class McpHttpConfig:
    """Server options. Assigning an invalid value raises ``ValueError`` and leaves the option unchanged."""

    def __new__(
        cls,
        port: int = 8765,
        server_name: Optional[str] = None,
        server_version: Optional[str] = None,
        host: str = "127.0.0.1",
        enable_prometheus: bool = False,
        prometheus_basic_auth: Optional[Tuple[str, str]] = None,
        *,
        request_timeout: Optional[float] = None,
        session_ttl: Optional[float] = None,
        header_read_timeout: Optional[float] = None,
        shutdown_timeout: Optional[float] = None,
        max_body_bytes: Optional[int] = None,
        max_sessions: Optional[int] = None,
        max_sessions_per_client: Optional[int] = None,
        max_batch_messages: Optional[int] = None,
        max_response_bytes: Optional[int] = None,
        max_connections: Optional[int] = None,
        body_read_timeout: Optional[float] = None,
        write_timeout: Optional[float] = None,
        job_queue_capacity: Optional[int] = None,
        job_concurrency: Optional[int] = None,
        allowed_origins: Optional[Sequence[str]] = None,
        max_jobs_per_session: Optional[int] = None,
        job_deadline: Optional[float] = None,
        max_job_result_bytes: Optional[int] = None,
        max_finished_jobs: Optional[int] = None,
        max_finished_job_bytes: Optional[int] = None,
        max_notification_result_bytes: Optional[int] = None,
        max_outbox_bytes: Optional[int] = None,
        enable_process_metrics: bool = True,
        sync_concurrency: Optional[int] = None,
        sync_queue_wait: Optional[float] = None,
        main_thread_executor: Optional[MainThreadExecutor] = None,
        include_traceback: bool = False,
        bearer_tokens: Optional[Sequence[str]] = None,
        oauth: Optional[Mapping[str, Any]] = None,
        max_pending_client_requests: Optional[int] = None,
        max_log_messages_per_sec: Optional[int] = None,
        max_request_state_bytes: Optional[int] = None,
        runtime_threads: Optional[int] = 2,
        gateway_registry_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
        gateway_instance_name: Optional[str] = None,
        gateway_dcc_type: Optional[str] = None,
        native_histograms: bool = False,
        max_streams: Optional[int] = None,
        max_streams_per_client: Optional[int] = None,
        max_connections_per_client: Optional[int] = None,
        max_body_bytes_in_flight: Optional[int] = None,
        max_outbox_bytes_total: Optional[int] = None,
        stream_send_buffer_bytes: Optional[int] = None,
        keep_alive_timeout: Optional[float] = None,
        outbox_unattached_timeout: Optional[float] = None,
        sse_idle_close: Optional[float] = None,
    ) -> McpHttpConfig: ...
    host: str
    """Address to bind (default ``"127.0.0.1"``)."""
    port: int
    """TCP port, 0–65535 (0 picks a free port; read the real one from ``McpServerHandle.port``)."""
    server_name: str
    """``serverInfo.name`` reported to MCP clients (default ``"dcc-mcp"``)."""
    server_version: str
    """``serverInfo.version`` reported to MCP clients (default: the package version)."""
    enable_prometheus: bool
    """Serve ``GET /metrics`` (needs ``"prometheus"`` in ``FEATURES``; accepted and ignored without it)."""
    enable_process_metrics: bool
    """With ``enable_prometheus``, also export the hosting process's ``process_*`` metrics (default ``True``;
    Linux only: accepted and without effect on Windows and macOS)."""
    native_histograms: bool
    """With ``enable_prometheus``, the tool-duration histograms also carry native (sparse exponential) buckets
    in the protobuf exposition (default ``False``: Prometheus 2.42 with ``--enable-feature=native-histograms``
    ignores a histogram's classic buckets once native ones are present)."""
    prometheus_basic_auth: Optional[Tuple[str, str]]
    """``(username, password)`` that ``/metrics`` requires, or ``None`` for an open endpoint."""
    request_timeout: float
    """Seconds a synchronous tool call may run (default 30)."""
    session_ttl: float
    """Seconds an idle MCP session lives (default 1800)."""
    header_read_timeout: float
    """Seconds a connection may take to send its request headers (default 10)."""
    shutdown_timeout: float
    """Seconds ``shutdown()`` waits for in-flight requests (default 5)."""
    max_body_bytes: int
    """Largest accepted request body (default 4 MiB)."""
    max_sessions: int
    """Most MCP sessions alive at once (default 10000); past it ``initialize`` evicts the least recently
    used idle session, and gets ``503`` + ``Retry-After`` only when every session is busy."""
    max_sessions_per_client: int
    """Most sessions one client address may hold (default 10000, i.e. no separate limit); past it that
    address's least recently used idle session is evicted (``503`` when all of them are busy)."""
    max_batch_messages: int
    """Most JSON-RPC messages in one batch ``POST`` (default 256); a longer batch gets ``400``."""
    max_response_bytes: int
    """Most bytes of one response body (default 16 MiB, at least 4096); past it the remaining requests
    of a batch get a "response too large" JSON-RPC error."""
    max_connections: int
    """Most open client connections (default 256); past it a new connection gets ``503`` and is closed."""
    max_streams: int
    """Most SSE streams open at once (default: half of ``max_connections``; must be below it)."""
    max_streams_per_client: int
    """Most SSE streams one client address may hold (default: half of ``max_streams``)."""
    max_connections_per_client: int
    """Most open connections from one client address (default: 3/4 of ``max_connections``)."""
    max_body_bytes_in_flight: int
    """Most bytes of request bodies being read at once, across all connections (default 64 MiB)."""
    max_outbox_bytes_total: int
    """Most bytes of notifications all session outboxes hold together (default 64 MiB)."""
    outbox_unattached_timeout: float
    """Seconds a session that never opened its stream keeps buffering notifications (default 30)."""
    stream_send_buffer_bytes: int
    """``SO_SNDBUF`` of a connection holding an SSE stream, in bytes (default 64 KiB)."""
    keep_alive_timeout: float
    """Seconds a keep-alive connection may stay silent between requests (default 60)."""
    sse_idle_close: float
    """Seconds a session's ``GET`` stream may send nothing before it is closed (default 300); the client
    reconnects with ``Last-Event-ID`` and gets what it missed."""
    body_read_timeout: float
    """Seconds to read a whole request body once its headers arrived (default 30); slower gets ``408``."""
    write_timeout: float
    """Seconds a write may make no progress before the connection is closed (default 30)."""
    job_queue_capacity: int
    """Long-running jobs that may wait in the queue; one more is refused (default 64)."""
    job_concurrency: int
    """Long-running jobs executing at once (default 4); one session runs at most ``job_concurrency - 1``."""
    max_jobs_per_session: int
    """Queued plus running jobs of one session; one more gets a "job quota" error result (default 16)."""
    job_deadline: Optional[float]
    """Seconds after creation at which a queued or running job is cancelled and fails (default ``None``: none)."""
    max_job_result_bytes: int
    """Largest job result or error kept, in bytes; a larger one fails the job (default 4 MiB)."""
    max_finished_jobs: int
    """Finished jobs kept for ``jobs.get`` (default 1000)."""
    max_finished_job_bytes: int
    """Bytes of results kept by finished jobs across sessions; must be >= ``max_job_result_bytes`` (default 64 MiB)."""
    max_notification_result_bytes: int
    """Largest result a job-completion notification carries, else only ``resultBytes`` (default 64 KiB)."""
    max_outbox_bytes: int
    """Bytes of notifications a session buffers; the oldest are dropped past it; must be >= ``max_notification_result_bytes`` (default 1 MiB)."""
    max_pending_client_requests: int
    """Unanswered requests to the client (elicitation, sampling, roots) one session may have (default 16)."""
    max_log_messages_per_sec: int
    """Handler log messages per second one session (or 2026-07-28 request) may send (default 100)."""
    max_request_state_bytes: int
    """Largest 2026-07-28 ``requestState`` accepted or returned, in bytes (default 65536)."""
    runtime_threads: Optional[int]
    """Worker threads of the server's tokio runtime, which does the I/O (parsing, ``/metrics``,
    responses; handlers run on threads of their own). Default 2; ``None``: one per CPU core."""
    @property
    def gateway_registry_dir(self) -> Optional[str]:
        """A gateway's discovery directory this server joins once bound, or ``None`` (default). Its real
        URL is written there (so ``port=0`` works) and kept fresh; the entry is removed at shutdown."""
    @property
    def gateway_instance_name(self) -> Optional[str]:
        """The name it joins under, its tools becoming ``NAME__tool`` (``None``: ``server_name``)."""
    @property
    def gateway_dcc_type(self) -> Optional[str]:
        """The DCC type written in the discovery entry (``maya``, ``blender``, ...), or ``None``."""
    bearer_tokens: List[str]
    """Static bearer tokens ``/mcp`` requires (``Authorization: Bearer <token>``, compared in constant time;
    each an RFC 6750 token: ``A-Z a-z 0-9 - . _ ~ + /`` then ``=`` padding). Empty (default): no
    authentication. A missing or wrong token gets ``401`` with ``WWW-Authenticate: Bearer``; more than 10
    failed logins from one address get ``429`` with ``Retry-After``. ``/metrics`` is not covered."""
    oauth: Optional[Dict[str, Any]]
    """``/mcp`` as an OAuth 2.1 resource server, or ``None`` (default). A dict with ``issuer``, ``jwks`` (a
    JWKS file path or an ``http://`` URL) and ``audience``; optional ``required_scopes`` (list of str),
    ``resource`` (this server's public ``/mcp`` URL), ``leeway`` and ``jwks_refresh_interval`` (seconds,
    default 60 each). Bearer JWTs (RS/PS/ES/EdDSA) must verify with a key of the set and carry that
    ``iss``, that ``aud`` and every required scope: else ``401 invalid_token`` (``403
    insufficient_scope`` for a scope), with ``WWW-Authenticate: Bearer resource_metadata="…"``; RFC 9728
    metadata is served at ``/.well-known/oauth-protected-resource[/mcp]``. Reading it returns every key
    filled in; unknown keys are refused. With ``bearer_tokens`` too, either is accepted."""
    allowed_origins: List[str]
    """Extra allowed ``Origin`` values (``"https://host:port"`` or ``"*"``); localhost is allowed on loopback."""
    sync_concurrency: int
    """Worker-thread handlers of sync calls running at once (default 32)."""
    sync_queue_wait: float
    """Seconds a sync call waits for a free worker before a "server busy" tool error (default 1)."""
    include_traceback: bool
    """A handler exception's ``isError`` result also carries the Python traceback (default ``False``:
    ``"Type: message"`` and its ``raise … from`` causes; the traceback is always logged through the
    ``dcc_mcp_core`` logger)."""
    main_thread_executor: Optional[MainThreadExecutor]
    """Runs main-thread handlers when the host pumps it (default ``None``). Reading it returns an
    object that shares the assigned executor's queue."""

@final
class MainThreadExecutor:
    """Tool calls waiting for the host application's main thread.

    Give it to the server (``McpHttpConfig(main_thread_executor=...)``) and call ``pump()`` from the
    host's idle or timer callback on its main thread: handlers registered for the main thread run
    there, inside ``pump()``, and nowhere else.
    """

    def __new__(cls, queue_depth: int = 64, *, on_pending: Optional[Callable[[], object]] = None) -> MainThreadExecutor:
        """At most ``queue_depth`` calls wait at once; one more gets the tool error
        ``"main thread busy: ..."`` at once and is counted as
        ``dcc_mcp_rejected_total{reason="main_thread_full"}``. ``ValueError`` unless ``queue_depth >= 1``.

        ``on_pending()`` is called from a thread of the executor's own (``dcc-mcp-on-pending``, never the
        main thread) each time the queue goes from empty to non-empty; give it the host's "run soon on the
        main thread" call, e.g. ``lambda: maya.utils.executeDeferred(pump)``. An exception it raises is
        logged (logger ``dcc_mcp_core``)."""
    def pump(self, max_items: Optional[int] = None, budget_ms: float = 10.0) -> int:
        """Run queued calls on this thread, oldest first, until ``max_items`` ran (default: no limit),
        ``budget_ms`` milliseconds passed or the queue is empty; return how many ran. Never waits for
        work. The budget is checked before each call (a started call runs to its end). A call whose
        client gave up first (request timeout, cancellation, server stopped) is dropped unrun, answered
        ``"tool '<name>' was not run: ..."`` and counted as ``dcc_mcp_rejected_total{reason="expired_before_run"}``.

        Called from inside a handler that another ``pump()`` runs (a modal dialog spinning the host's event
        loop), it runs nothing and returns 0. A ``KeyboardInterrupt`` raised in a handler answers that call
        with an error and is raised again here."""
    @property
    def queue_depth(self) -> int:
        """The most calls that can wait at once."""
    @property
    def queued(self) -> int:
        """Calls waiting now."""

@final
class ToolRegistry:
    """The tools a server offers. A server shares its registry: later changes are visible to it."""

    def __new__(cls) -> ToolRegistry: ...
    def register(
        self,
        name: str,
        description: str = "",
        input_schema: Optional[_JsonSchema] = None,
        output_schema: Optional[_JsonSchema] = None,
        execution: Literal["sync", "async"] = "sync",
        *,
        title: Optional[str] = None,
        annotations: Optional[ToolAnnotations] = None,
    ) -> None:
        """Register a tool; ``ValueError`` for a duplicate/invalid name, a bad schema (the root must be
        ``{"type": "object", ...}``), an execution mode or an annotation.

        ``execution="async"`` runs each call as a long-running job (needs ``"workflow"`` in ``FEATURES``).
        ``title`` is the display name; ``annotations`` the MCP hints (``readOnlyHint``,
        ``destructiveHint``, ``idempotentHint``, ``openWorldHint``).
        """
    def tool(
        self,
        name: Optional[str] = None,
        *,
        title: Optional[str] = None,
        description: Optional[str] = None,
        annotations: Optional[ToolAnnotations] = None,
        main_thread: Optional[bool] = None,
        execution: Literal["sync", "async"] = "sync",
        input_schema: Optional[Dict[str, Any]] = None,
        output_schema: Optional[Dict[str, Any]] = None,
        mime_type: Optional[str] = None,
    ) -> Callable[[_ToolFunction], _ToolFunction]:
        """Decorator: register the function as a tool with the registry's own handler (used by every
        server over this registry). The schema comes from the type hints, the description from the
        docstring; see ``McpHttpServer.tool``. ``main_thread=True`` needs a server with a
        ``main_thread_executor``."""
    def _set_handler(self, name: str, fn: _ContextHandler, *, main_thread: bool = False) -> None: ...
    def unregister(self, name: str) -> bool:
        """Remove a tool; returns whether it was registered."""
    def list(self) -> List[Dict[str, Any]]:
        """All tools sorted by name: dicts with ``name``, ``description``, ``input_schema``,
        ``output_schema`` and ``execution``."""
    def names(self) -> List[str]:
        """Registered tool names, sorted."""
    def get(self, name: str) -> Optional[Dict[str, Any]]:
        """One tool as a dict, or ``None``."""
    def __len__(self) -> int: ...
    def __contains__(self, key: str, /) -> bool: ...

@final
class ToolContext:
    """Given to handlers registered with ``pass_context=True``, and to the parameter of a
    ``@server.tool()``, ``@server.resource()`` or ``@server.prompt()`` function annotated
    ``ToolContext``. For a resource read or a prompt, ``tool_name`` names the entry
    (``"resource 'scene://current'"``, ``"prompt 'cleanup'"``); in the session era ``log`` reaches
    the client (in 2026-07-28 it goes nowhere); ``is_cancelled`` stays
    False, ``close_stream`` and ``client_supports`` return False, and the client requests raise
    ``RuntimeError``."""

    @property
    def tool_name(self) -> str: ...
    @property
    def is_cancelled(self) -> bool:
        """True once the call timed out, its job was cancelled or the server is stopping; raise to stop."""
    def report_progress(self, progress: float, total: Optional[float] = None, message: Optional[str] = None) -> None:
        """Report progress (visible in ``jobs.get`` for async tools; sent as ``notifications/progress``
        when the client asked for it)."""
    def log(self, level: Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"], data: Any, logger: Optional[str] = None) -> None:
        """Send ``notifications/message`` to the client when its level allows it (``logging/setLevel``
        in the session era, the request's ``_meta`` log level in 2026-07-28); past
        ``max_log_messages_per_sec`` messages are dropped. ``ValueError`` for an unknown level."""
    def close_stream(self) -> bool:
        """Close this call's POST SSE answer now and keep running: the client reconnects with
        ``GET`` and ``Last-Event-ID`` and gets the call's later messages and its result there
        (2025-11-25 SSE polling). True when the answer is such a stream (a session-era call of a
        2025-11-25 session that accepts ``text/event-stream``); otherwise does nothing, False."""
    def client_supports(self, capability: Literal["elicitation", "sampling", "roots"]) -> bool:
        """True when the client declared the capability."""
    def elicit(self, message: str, schema: Dict[str, Any], key: Optional[str] = None) -> Dict[str, Any]:
        """Ask the user to fill in a form (``elicitation/create``); blocks this thread (GIL released)
        until the client answers. Returns ``{"action": "accept"|"decline"|"cancel", "content": {...}}``.
        Raises ``RuntimeError`` when the client did not declare ``elicitation``, refused, or the call
        ended; in 2026-07-28 the first run raises too (the call returns an ``InputRequiredResult`` and
        the handler runs again on the retry): let it propagate. ``key`` names the request there."""
    def sample(self, messages: Union[str, List[Dict[str, Any]]], max_tokens: int = 100, system_prompt: Optional[str] = None, key: Optional[str] = None) -> Dict[str, Any]:
        """Ask the client's model (``sampling/createMessage``): a prompt string or a list of
        ``{"role", "content"}`` messages. Returns ``{"role", "content", "model", "stopReason"}``.
        Raises as ``elicit``."""
    def list_roots(self, key: Optional[str] = None) -> List[Dict[str, Any]]:
        """The client's roots (``roots/list``): ``[{"uri": "file:///…", "name": …}]``. Raises as ``elicit``."""

@final
class McpHttpServer:
    """An MCP Streamable HTTP server (``/mcp``; ``/metrics`` with ``enable_prometheus``)."""

    def __new__(cls, registry: ToolRegistry, config: Optional[McpHttpConfig] = None) -> McpHttpServer: ...
    def tool(
        self,
        name: Optional[str] = None,
        *,
        title: Optional[str] = None,
        description: Optional[str] = None,
        annotations: Optional[ToolAnnotations] = None,
        main_thread: Optional[bool] = None,
        execution: Literal["sync", "async"] = "sync",
        input_schema: Optional[Dict[str, Any]] = None,
        output_schema: Optional[Dict[str, Any]] = None,
        mime_type: Optional[str] = None,
    ) -> Callable[[_ToolFunction], _ToolFunction]:
        """Decorator: register the function as a tool of this server and return it unchanged.

        The input schema comes from the type hints (``int``, ``float``, ``str``, ``bool``, ``list[...]``,
        ``dict[str, ...]``, ``Literal``, ``Optional``, ``Enum``, ``TypedDict``, pydantic models), a
        default makes a parameter optional, the description is the docstring, and a parameter
        annotated ``ToolContext`` receives the call's context. The function is called with keyword
        arguments. ``async def`` is refused with ``TypeError``. ``main_thread`` as in
        ``register_handler``; ``mime_type`` (``image/*`` or ``audio/*``) says what returned ``bytes`` are.
        """
    def resource(
        self,
        uri: str,
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        mime_type: Optional[str] = None,
        main_thread: Optional[bool] = None,
        complete: Optional[_Completion] = None,
    ) -> Callable[[_ResourceFunction], _ResourceFunction]:
        """Decorator: serve the function's return value as the MCP resource ``uri`` and return the
        function unchanged. A URI with RFC 6570 variables (``"scene://nodes/{name}"``) is a resource
        template: each variable is a parameter of the function (``str``, or ``int``/``float``/``bool``
        converted from the URI). ``str``/``Text`` → text contents; ``bytes``/``Image``/``Audio`` →
        binary contents; ``dict``/``list`` → their JSON (MIME type ``application/json``). The
        function runs at every ``resources/read``, where ``main_thread`` says (as in
        ``register_handler``). ``name`` defaults to the function's name, ``description`` to its
        docstring. ``complete={"variable": ["value", ...]}`` answers ``completion/complete`` for a
        template's variables with the values that start with what was typed;
        ``complete=fn`` calls ``fn(variable, value, context)`` instead, where the reader would run
        (a failing or non-list answer completes to nothing and is logged). A parameter annotated
        ``ToolContext`` receives the read's context. ``ValueError`` for a URI already served;
        ``TypeError`` for ``async def`` or a parameter that is not a variable of the URI."""
    def prompt(
        self,
        name: Optional[str] = None,
        *,
        title: Optional[str] = None,
        description: Optional[str] = None,
        main_thread: Optional[bool] = None,
        complete: Optional[_Completion] = None,
    ) -> Callable[[_PromptFunction], _PromptFunction]:
        """Decorator: serve the function as the MCP prompt ``name`` (default: the function's name)
        and return it unchanged. Each parameter is a prompt argument (required unless it has a
        default; ``Annotated[str, "text"]`` gives its description), passed as ``str`` or converted
        to ``int``/``float``/``bool``. Returns a ``str``/``Text``/``Image``/``Audio`` (one user
        message), a ``{"role": "user"|"assistant", "content": ...}`` dict, or a list of those.
        ``complete={"argument": ["value", ...]}`` answers ``completion/complete`` for an argument;
        ``complete=fn`` calls ``fn(argument, value, context)`` instead, as ``resource()`` does. A
        parameter annotated ``ToolContext`` receives the request's context (it is no argument)."""
    def _add_resource(self, spec: Dict[str, Any], fn: Callable[[Dict[str, Any], ToolContext], Dict[str, Any]], *,
                      template: bool, main_thread: Optional[bool] = None) -> None: ...
    def _add_prompt(self, spec: Dict[str, Any], fn: Callable[[Dict[str, Any], ToolContext], Dict[str, Any]], *,
                    main_thread: Optional[bool] = None) -> None: ...
    def _add_completion(self, reference: str, argument: str, values: List[str], *, prompt: bool) -> None: ...
    def _add_completion_fn(self, reference: str, arguments: List[str],
                           fn: Callable[[Dict[str, Any], ToolContext], List[str]], *, prompt: bool,
                           main_thread: Optional[bool] = None) -> None: ...
    def remove_resource(self, uri: str) -> bool:
        """Stop serving the resource ``uri`` (or the template with this text); whether it was served."""
    def remove_prompt(self, name: str) -> bool:
        """Stop serving the prompt ``name``; whether it was served."""
    def notify_resource_updated(self, uri: str) -> None:
        """Send ``notifications/resources/updated`` to the sessions subscribed to ``uri``."""
    @overload
    def register_handler(
        self,
        name: str,
        fn: _Handler,
        *,
        pass_context: Literal[False] = False,
        main_thread: Optional[bool] = None,
    ) -> None:
        """Set this server's function for tool ``name`` (register the tool first, else ``ValueError``).
        Another server over the same registry keeps its own. Worker-thread handlers run on the server's
        Python threads (``dcc-mcp-handler``); ``fn`` is visible to the garbage collector, so bound
        methods do not keep a dropped plug-in (and its server) alive.

        ``fn(arguments)`` — or ``fn(arguments, context)`` with ``pass_context=True``, where
        ``context`` is a ``ToolContext`` — runs holding the GIL and must return something
        JSON-serialisable (a ``str`` becomes the text content; a ``dict`` is also the structured
        content). A raised exception, or a return value that is not JSON, becomes a tool result with
        ``isError: true`` carrying the message.

        ``main_thread=True`` runs it on the host's main thread inside ``MainThreadExecutor.pump()``
        (``ValueError`` without a ``main_thread_executor`` in the configuration); ``False`` on a
        server worker thread. The default ``None`` means: the main thread when the configuration has
        a ``main_thread_executor``, a worker thread otherwise.
        """

    @overload
    def register_handler(
        self,
        name: str,
        fn: _ContextHandler,
        *,
        pass_context: Literal[True],
        main_thread: Optional[bool] = None,
    ) -> None: ...
    @property
    def registry(self) -> ToolRegistry: ...
    @property
    def config(self) -> McpHttpConfig:
        """A copy of the configuration."""
    def start(self) -> McpServerHandle:
        """Bind and start serving on a background thread.

        Raises ``OSError`` if the port cannot be bound (``errno.EADDRINUSE`` when it is in use) and
        ``RuntimeError`` if this server was already started.
        """

@final
class McpServerHandle:
    """A running server; a context manager that shuts the server down on exit."""

    @property
    def port(self) -> int: ...
    @property
    def bind_addr(self) -> str:
        """``"host:port"``."""
    @property
    def is_running(self) -> bool:
        """False after ``shutdown()``, or if the server stopped on its own."""
    def mcp_url(self) -> str:
        """e.g. ``"http://127.0.0.1:8765/mcp"``."""
    def metrics_url(self) -> str:
        """e.g. ``"http://127.0.0.1:8765/metrics"``."""
    def shutdown(self) -> None:
        """Stop serving; in-flight requests get ``shutdown_timeout`` seconds. Idempotent. ``RuntimeError``
        when called from inside a main-thread handler of this server (it would wait for itself)."""
    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the server stops or ``timeout`` passes; returns whether it stopped.
        ``wait(0)`` only looks. Waits on the calling thread (no helper thread); Ctrl-C raises
        ``KeyboardInterrupt``."""
    def __enter__(self) -> "McpServerHandle": ...
    def __exit__(
        self,
        _exc_type: Optional[Type[BaseException]] = None,
        _exc: Optional[BaseException] = None,
        _tb: Optional[TracebackType] = None,
    ) -> bool: ...
