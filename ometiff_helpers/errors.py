"""Every failure this package raises: one base class, a few families, messages a support person can act on.

Rules for every raiser:
- the message says what went wrong, where (byte offset, IFD index, redacted URL) and what to do;
- never put an unredacted URL in a message: pass ``SecretURL.redacted`` (see ``urls.py``);
- re-raise library exceptions ``from None`` so their text (which may hold the URL with its token) is not chained.
"""

from __future__ import annotations


class OmeTiffError(Exception):
    """Base class of every error raised by ometiff_helpers."""

    #: a short remedy shown after the message by the CLI and the notebooks ("" when none applies)
    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        return f"{end_sentence(self.message)} {end_sentence(self.hint)}".strip()


def end_sentence(text: str) -> str:
    """``text`` ending as a sentence: a full stop added unless it already ends with . ! ? or a closing quote."""
    text = text.strip()
    return text if not text or text[-1] in ".!?\"')" else text + "."


# --- network -------------------------------------------------------------------------------------------------------


class RemoteError(OmeTiffError):
    """The server could not give us the bytes we asked for."""

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.url = url  # always the redacted form
        self.status = status


class AccessDenied(RemoteError):
    """401/403: token missing, expired or re-encoded."""


class NotFound(RemoteError):
    """404/410: no file at that URL."""


class RateLimited(RemoteError):
    """429 after the allowed retries."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(RemoteError):
    """5xx after the allowed retries."""


class RangeNotSupported(RemoteError):
    """The server ignores Range and would send the whole file."""


class ProtocolError(RemoteError):
    """A response we cannot trust: bad Content-Range, short body, Content-Encoding, file changed."""


class DeadlineExceeded(RemoteError):
    """The wall-clock deadline ran out (slow server, no answer)."""


class RedirectError(RemoteError):
    """Redirect loop, too many hops, or a refused target (downgrade to http, other scheme)."""


class ConnectionFailed(RemoteError):
    """Could not connect: refused, DNS failure, TLS failure, reset that retries did not cure."""


# --- file format -----------------------------------------------------------------------------------------------------


class FormatError(OmeTiffError):
    """The bytes are not a readable TIFF."""


class NotATiff(FormatError):
    """The file does not start like a TIFF; ``kind`` says what it looks like instead (html, json, png, ...)."""

    def __init__(self, message: str, *, kind: str = "unknown", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind


class CorruptTiff(FormatError):
    """A TIFF structure that cannot be followed at ``offset``."""

    def __init__(self, message: str, *, offset: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.offset = offset


class IFDLoop(CorruptTiff):
    """The IFD chain or a SubIFD pointer comes back to an IFD already read."""


class LimitExceeded(OmeTiffError):
    """A configured bound (tags per IFD, IFD count, bytes, requests, XML size, depth) was reached."""

    def __init__(
        self, message: str, *, name: str, value: int | float, limit: int | float, hint: str | None = None
    ):
        super().__init__(message, hint=hint)
        self.name = name
        self.value = value
        self.limit = limit


# --- OME -------------------------------------------------------------------------------------------------------------


class NotOmeTiff(OmeTiffError):
    """A TIFF, but IFD 0 carries no OME-XML; ``kind`` says what it carries (no-description, imagej, xml:<root>, ...)."""

    def __init__(self, message: str, *, kind: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind


class OmeXmlError(OmeTiffError):
    """The OME-XML cannot be parsed safely; ``line``/``column`` locate the problem when known."""

    def __init__(
        self, message: str, *, line: int | None = None, column: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.line = line
        self.column = column


class UnsupportedOme(OmeTiffError):
    """Valid OME, but a layout this tool does not follow by itself (BinaryOnly stub, multi-file set)."""

    def __init__(self, message: str, *, kind: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
