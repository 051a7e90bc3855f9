"""What a decorated tool may return besides plain data: images, audio, text blocks, complete results.

Why explicit classes and not a look at a ``dict``'s shape: a tool that returns ``{"content": [...]}``
as its data must get it back as data. A handler value is MCP content only when it is one of these
objects (or a list of them); everything else keeps the data mapping (``str`` → text, ``dict`` and
``list`` → ``structuredContent`` plus its JSON as text).
"""

from __future__ import annotations

import base64
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, TypedDict, Union

__all__ = ["Audio", "ContentBlock", "Image", "Text", "ToolAnnotations", "ToolResult", "CALL_TOOL_RESULT_KEY"]

#: The reserved key under which a complete result travels to the server (the Rust
#: ``dcc_mcp_http::CALL_TOOL_RESULT_KEY``). Only ``ToolResult`` builds it.
CALL_TOOL_RESULT_KEY = "dcc-mcp/callToolResult"

ToolAnnotations = TypedDict(
    "ToolAnnotations",
    {"readOnlyHint": bool, "destructiveHint": bool, "idempotentHint": bool, "openWorldHint": bool},
    total=False,
)
"""MCP tool annotations: hints a client uses, e.g. to ask the user before a destructive call."""


def _read(data: Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    with open(os.fspath(data), "rb") as f:
        return f.read()


class _Binary:
    _kind = ""
    _default_mime = ""
    _by_suffix: Dict[str, str] = {}

    __slots__ = ("data", "mime_type")

    def __init__(
        self,
        data: Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"],
        mime_type: Optional[str] = None,
    ) -> None:
        if mime_type is None and isinstance(data, (str, os.PathLike)):
            mime_type = self._by_suffix.get(os.path.splitext(os.fspath(data))[1].lower())
        self.data: bytes = _read(data)
        self.mime_type: str = mime_type or self._default_mime

    def to_block(self) -> Dict[str, Any]:
        """The MCP content block (``data`` base64-encoded)."""
        return {"type": self._kind, "data": base64.b64encode(self.data).decode("ascii"), "mimeType": self.mime_type}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<{len(self.data)} bytes>, mime_type={self.mime_type!r})"


class Image(_Binary):
    """An image content block: ``Image(png_bytes)``, ``Image(b, "image/jpeg")`` or ``Image("shot.png")``
    (the MIME type then follows the file suffix)."""

    _kind = "image"
    _default_mime = "image/png"
    _by_suffix = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                  ".webp": "image/webp", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
                  ".exr": "image/x-exr"}

    __slots__ = ()


class Audio(_Binary):
    """An audio content block: ``Audio(wav_bytes)``, ``Audio(b, "audio/mpeg")`` or ``Audio("take.wav")``."""

    _kind = "audio"
    _default_mime = "audio/wav"
    _by_suffix = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac"}

    __slots__ = ()


class Text:
    """A text content block, for a result with several blocks (``[Text("before"), Image(b)]``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def to_block(self) -> Dict[str, Any]:
        """The MCP content block."""
        return {"type": "text", "text": self.text}

    def __repr__(self) -> str:
        return f"Text({self.text!r})"


ContentBlock = Union[Text, Image, Audio]
"""One content block a tool can return."""


class ToolResult:
    """A complete tool result, sent as is: its content blocks (helpers or MCP content ``dict``s),
    an optional ``structured_content`` (checked against the tool's ``output_schema``) and ``is_error``."""

    __slots__ = ("content", "structured_content", "is_error")

    def __init__(
        self,
        content: Sequence[Union[ContentBlock, Mapping[str, Any]]] = (),
        structured_content: Optional[Mapping[str, Any]] = None,
        is_error: bool = False,
    ) -> None:
        self.content = list(content)
        self.structured_content = structured_content
        self.is_error = is_error

    def to_value(self) -> Dict[str, Any]:
        """The value the server unwraps into the result (``{CALL_TOOL_RESULT_KEY: {...}}``)."""
        blocks: List[Any] = [b.to_block() if isinstance(b, (Text, Image, Audio)) else dict(b) for b in self.content]
        result: Dict[str, Any] = {"content": blocks, "isError": bool(self.is_error)}
        if self.structured_content is not None:
            result["structuredContent"] = dict(self.structured_content)
        return {CALL_TOOL_RESULT_KEY: result}

    def __repr__(self) -> str:
        return (f"ToolResult(content={self.content!r}, structured_content={self.structured_content!r}, "
                f"is_error={self.is_error!r})")
