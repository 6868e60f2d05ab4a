"""Where to read: the URL (and token) given, else ``$OMETIFF_URL`` (and ``$OMETIFF_TOKEN``), else the bundled demo.

The notebooks and the inspect app share this choice. A token comes from the URL itself (``?token=...``), else from the
separate token given, else from ``$OMETIFF_TOKEN``: the URL's own token wins, and `Target.note` says when another one
was set aside (appending it would send ``token=...&token=...``, which servers read differently).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import unquote_plus, urlsplit

from ometiff_helpers import demo
from ometiff_helpers.frozen import record
from ometiff_helpers.urls import SecretURL

__all__ = ["TOKEN_ENV", "URL_ENV", "Target", "has_token", "location", "resolve_target"]

URL_ENV = "OMETIFF_URL"
TOKEN_ENV = "OMETIFF_TOKEN"  # noqa: S105 (the name of a variable, not a secret)

_ORIGINS = {
    "parameters": "the URL given in the parameters cell",
    "environment": f"the URL in ${URL_ENV}",
    "demo": "the bundled demo file, served from a local range-capable server",
}


@record
class Target:
    """What to inspect: a URL (kept secret) or a local path, where it came from, and a note for the reader."""

    location: SecretURL | str
    origin: str  # "parameters", "environment" or "demo"
    note: str | None = None  # e.g. "the URL carries its own token: $OMETIFF_TOKEN was not used"

    @property
    def display_name(self) -> str:
        """The location as it may be shown (redacted)."""
        return str(self.location)

    def describe(self) -> str:
        """One sentence (two with a note) saying what is inspected and where it came from."""
        text = f"Inspecting {_ORIGINS[self.origin]}: {self.display_name}"
        return f"{text}\nNote: {self.note}" if self.note else text


def has_token(url: str) -> bool:
    """True when ``url``'s query has a non-empty ``token=`` parameter."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return False
    for piece in query.split("&") if query else []:
        key, _, value = piece.partition("=")
        if unquote_plus(key).strip().lower() == "token" and value:
            return True
    return False


def location(
    url: str,
    token: str | None,
    *,
    token_from: str = "the token field",  # noqa: S107 (words, not a secret)
) -> tuple[SecretURL | str, str | None]:
    """``url`` as a `SecretURL` (with ``token`` added unless the URL has its own) or a local path, and a note.

    The note says that ``token`` (from ``token_from``) was set aside because the URL carries its own token.
    """
    url = url.strip()
    token = (token or "").strip() or None
    note = None
    if token and has_token(url):
        note = f"the URL carries its own token, which is used: {token_from} was not used"
        token = None
    secret = SecretURL(url, token=token)
    return (secret, note) if secret.is_http else (url, None)


def resolve_target(url: str = "", token: str = "", *, environ: Mapping[str, str] | None = None) -> Target:
    """The parameters cell's ``url``/``token`` first, then ``$OMETIFF_URL``/``$OMETIFF_TOKEN``, else the demo.

    The demo is served by a loopback `RangeServer` started here (and stopped at exit).
    """
    env = os.environ if environ is None else environ
    given = token.strip()
    token_from = "the separate token" if given else f"${TOKEN_ENV}"
    token = given or env.get(TOKEN_ENV, "").strip()
    if url.strip():
        where, note = location(url, token, token_from=token_from)
        return Target(where, "parameters", note)
    if env.get(URL_ENV, "").strip():
        where, note = location(env[URL_ENV], token, token_from=token_from)
        return Target(where, "environment", note)
    return Target(SecretURL(demo.demo_url()), "demo")
