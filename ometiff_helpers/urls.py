"""URLs that carry secrets: hold them in `SecretURL`, print only the redacted form, scrub any text of them.

A secret is the value of a query parameter whose key is in `SECRET_PARAMS` (or ends in ``token``) and the password of
a ``user:pass@`` userinfo. Every secret value seen by any `SecretURL` is remembered for the life of the process so that
`redact_text` can remove it (raw and percent-encoded) from exception messages and log records that libraries build.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

if TYPE_CHECKING:
    import logging

__all__ = [
    "SECRET_PARAMS",
    "SecretFilter",
    "SecretURL",
    "install_secret_filter",
    "is_secret_key",
    "redact_text",
    "redact_url",
]

#: lower-case query keys whose values are secrets (any key ending in "token" is one too)
SECRET_PARAMS: frozenset[str] = frozenset(
    {
        "token",
        "access_token",
        "auth",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-security-token",
        "x-amz-credential",
        "x-goog-signature",
        "x-goog-credential",
        "key",
        "apikey",
        "api_key",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "jwt",
        "policy",
        "key-pair-id",
        "awsaccesskeyid",  # S3 SigV2 presigned URLs (with Signature, Expires)
        "googleaccessid",  # GCS V2 signed URLs
        "ossaccesskeyid",  # Alibaba OSS signed URLs
    }
)

REDACTED = "***"
# values shorter than this are hidden structurally (key=***) but not scrubbed from free text: scrubbing "ab"
# from every message would mangle it without protecting anything
_MIN_SCRUB_LEN = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def is_secret_key(key: str) -> bool:
    """True when a query parameter named ``key`` carries a secret (case-insensitive)."""
    k = unquote_plus(key).strip().lower()
    return k in SECRET_PARAMS or k.endswith("token")


def _variants(value: str) -> set[str]:
    """The forms a secret may take in text: as given, decoded, and percent-encoded."""
    forms = {value}
    for decoded in (unquote(value), unquote_plus(value)):
        forms.add(decoded)
    for base in list(forms):
        forms.add(quote(base, safe=""))
        forms.add(quote_plus(base, safe=""))
        forms.add(quote(base, safe="/:=+"))
    return {f for f in forms if len(f) >= _MIN_SCRUB_LEN}


def _remember(value: str) -> None:
    global _pattern
    forms = _variants(value)
    if not forms:
        return
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


# a query parameter inside any text: ?key=value or &key=value (value up to a delimiter)
_PARAM_RE = re.compile(r"(?P<lead>[?&;](?P<key>[A-Za-z0-9_.\-%]+)=)(?P<value>[^&#\s'\"<>]*)")
_USERINFO_RE = re.compile(r"(?P<lead>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@'\"]*:)(?P<pw>[^@/\s'\"]+)@")


_CLOSERS = {")": "(", "]": "[", "}": "{"}
_SENTENCE_END = ".,;:!?"


def _split_tail(value: str) -> tuple[str, str]:
    """``"ABC)"`` -> ``("ABC", ")")``: punctuation that ends the sentence or closes a bracket opened before the URL
    is text around the value, not part of it (a bracket opened inside the value stays in it)."""
    end = len(value)
    while end:
        ch = value[end - 1]
        if ch in _SENTENCE_END or (
            ch in _CLOSERS and value[:end].count(_CLOSERS[ch]) < value[:end].count(ch)
        ):
            end -= 1
            continue
        break
    return value[:end], value[end:]


def _redact_params(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        value, tail = _split_tail(m.group("value"))
        if is_secret_key(m.group("key")) and value:
            return m.group("lead") + REDACTED + tail
        return m.group(0)

    text = _PARAM_RE.sub(sub, text)
    return _USERINFO_RE.sub(lambda m: m.group("lead") + REDACTED + "@", text)


def redact_text(text: str) -> str:
    """``text`` with every secret seen in this process, and every secret-looking URL parameter, replaced by ***."""
    if not text:
        return text
    text = str(text)
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _redact_params(text)


def _split_query(query: str) -> list[tuple[str, str | None]]:
    """``a=1&b&c=`` -> [("a", "1"), ("b", None), ("c", "")], keys and values as written (not decoded)."""
    parts: list[tuple[str, str | None]] = []
    for piece in query.split("&"):
        if "=" in piece:
            k, v = piece.split("=", 1)
            parts.append((k, v))
        else:
            parts.append((piece, None))
    return parts


def _redact_query(query: str) -> str:
    out = []
    for k, v in _split_query(query):
        if v is None:
            out.append(k)
        elif is_secret_key(k) and v:
            out.append(f"{k}={REDACTED}")
        else:
            out.append(f"{k}={v}")
    return "&".join(out)


def redact_url(url: str) -> str:
    """``url`` with secret query values and the userinfo password replaced by ***; everything else unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{hostport}" if ":" in userinfo else f"{REDACTED}@{hostport}"
    query = _redact_query(parts.query) if parts.query else parts.query
    redacted = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    if parts.query == "" and url.endswith("?"):
        redacted += "?"
    return redact_text(redacted)


class SecretURL:
    """A URL whose ``str``/``repr`` hide its secrets; only the HTTP code calls `reveal()`."""

    __slots__ = ("__url", "_redacted")

    def __init__(self, url: str | SecretURL, token: str | None = None) -> None:
        raw = url.reveal() if isinstance(url, SecretURL) else str(url).strip()
        if token:
            token = token.strip()
            _remember(token)
            encoded = quote(token, safe="-._~")
            base, sep, fragment = raw.partition("#")
            joiner = "" if base.endswith(("?", "&")) else ("&" if "?" in base else "?")
            raw = f"{base}{joiner}token={encoded}" + (sep + fragment if sep else "")
        self.__url = raw
        self._register()
        self._redacted = redact_url(raw)

    def _register(self) -> None:
        try:
            parts = urlsplit(self.__url)
        except ValueError:
            return
        for k, v in _split_query(parts.query):
            if v and is_secret_key(k):
                _remember(v)
        if "@" in parts.netloc:
            userinfo = parts.netloc.rpartition("@")[0]
            secret = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
            if secret:
                _remember(secret)

    # --- the exact URL -------------------------------------------------------------------------------------------

    def reveal(self) -> str:
        """The URL exactly as given (plus an appended token): the query is never re-encoded."""
        return self.__url

    # --- safe views ----------------------------------------------------------------------------------------------

    @property
    def redacted(self) -> str:
        return self._redacted

    @property
    def scheme(self) -> str:
        return urlsplit(self.__url).scheme.lower()

    @property
    def is_http(self) -> bool:
        return self.scheme in ("http", "https")

    @property
    def host(self) -> str:
        """Host name (no userinfo, no port)."""
        return urlsplit(self.__url).hostname or ""

    @property
    def origin(self) -> tuple[str, str, int | None]:
        """(scheme, host, port) with the default port filled in: two URLs with equal origins share credentials."""
        parts = urlsplit(self.__url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None:
            port = {"http": 80, "https": 443}.get(parts.scheme.lower())
        return (parts.scheme.lower(), (parts.hostname or "").lower(), port)

    @property
    def path_name(self) -> str:
        """The last path segment, percent-decoded, without the query."""
        path = urlsplit(self.__url).path
        return unquote(path.rstrip("/").rsplit("/", 1)[-1]) if path else ""

    def with_path_name(self, name: str) -> SecretURL:
        """A sibling URL: the last path segment replaced by ``name`` (quoted), query kept."""
        parts = urlsplit(self.__url)
        head = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
        path = f"{head}/{quote(name, safe='')}"
        return SecretURL(urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment)))

    def __str__(self) -> str:
        return self._redacted

    def __repr__(self) -> str:
        return f"SecretURL({self._redacted!r})"

    def _repr_html_(self) -> str:
        import html

        return f"<code>{html.escape(self._redacted)}</code>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretURL) and other.__url == self.__url

    def __hash__(self) -> int:
        return hash(self.__url)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("SecretURL cannot be pickled (it holds a secret)")


class SecretFilter:
    """A logging filter that rewrites each record's message (and formatted traceback) through `redact_text`.

    Any object with a ``filter(record)`` method is a logging filter; this one does not derive from
    ``logging.Filter``, so that importing this module (every start of the command line) does not import ``logging``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message, arguments, traceback and stack in place; keep the record."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep only the format string
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            import logging

            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_FILTER = SecretFilter()


def install_secret_filter(*names: str) -> SecretFilter:
    """Add the shared `SecretFilter` to the named loggers and to every existing descendant of them.

    Logger filters only see records created on that very logger, so the filter goes on each one
    (e.g. ``install_secret_filter("urllib3")`` covers ``urllib3.connectionpool``). ``""`` means the root
    logger's handlers, which do see propagated records.
    """
    import logging

    for name in names or ("",):
        if name == "":
            for handler in logging.getLogger().handlers:
                if _FILTER not in handler.filters:
                    handler.addFilter(_FILTER)
            continue
        targets = [logging.getLogger(name)]
        prefix = name + "."
        for other in list(logging.root.manager.loggerDict):
            if other.startswith(prefix):
                targets.append(logging.getLogger(other))
        for logger in targets:
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
    return _FILTER
