"""When to try a range request again: the retryable failures, backoff with jitter, Retry-After, and the loop.

A reset connection, a timeout, HTTP 429 and 5xx are retried (``HttpOptions.max_retries``), a truncated body once;
a wait never runs past the request's deadline. Everything else is final and raised as it is.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar

from ometiff_helpers.errors import (
    DeadlineExceeded,
    OmeTiffError,
    ProtocolError,
    RateLimited,
    ServerError,
)
from ometiff_helpers.io.base import HttpOptions
from ometiff_helpers.urls import SecretURL

__all__ = [
    "Retryable",
    "backoff",
    "body_failure",
    "exc_kind",
    "exhausted_error",
    "parse_retry_after",
    "retrying",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Retryable(Exception):
    """This attempt failed in a way worth retrying (internal to the HTTP source)."""

    def __init__(self, kind: str, message: str, wait: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # "reset" | "truncated" | "timeout" | "status"
        self.message = message
        self.wait = wait
        self.status = status


class Attempts(Protocol):
    """What the retry loop reads and counts on the state of one range request."""

    attempt: int
    deadline_at: float

    @property
    def expired(self) -> bool:
        """The request's watchdog cut its connection."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait before the next attempt (less when the request is cut meanwhile)."""
        ...


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or garbage."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff(options: HttpOptions, n: int) -> float:
    """Seconds to wait before the ``n``-th retry: exponential, capped, with +-50 % jitter."""
    base = min(options.backoff_max, options.backoff_base * 2 ** (n - 1))
    return base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security


def retrying(
    state: Attempts,
    attempt: Callable[[], T],
    *,
    options: HttpOptions,
    where: Callable[[], SecretURL],
    deadline_error: Callable[[str, str | None], DeadlineExceeded],
) -> T:
    """Run ``attempt`` until it succeeds, a final error occurs, the retries are spent or the deadline is near.
    ``where`` gives the URL in use (it changes with redirects), ``deadline_error`` the error to raise at the
    deadline (given why, and a hint when the cause was not slowness: the earlier attempts failed)."""
    resets = truncations = 0
    failure: OmeTiffError | None = None
    last: Retryable | None = None

    def out_of_time(why: str) -> DeadlineExceeded:
        """The deadline error, naming the failures that used the time up when there were any."""
        if last is None:
            return deadline_error(why, None)
        n = resets + truncations
        return deadline_error(
            f"{why}; {n} earlier attempt{'s' if n > 1 else ''} failed, the last with {last.message}",
            "The connection keeps breaking (a proxy, load balancer or the server drops it); try again later, "
            "or ask the server's administrators if it persists.",
        )

    while failure is None:
        state.attempt += 1
        retry: Retryable | None = None
        try:
            done = attempt()
        except Retryable as r:
            retry = r
        except OmeTiffError:
            if state.expired:  # e.g. headers cut off by the watchdog, read as a bad answer
                raise out_of_time("the server sends too slowly") from None
            raise
        if state.expired:  # what arrived may be cut short: neither retry nor trust it
            raise out_of_time("the server sends too slowly")
        if retry is None:
            return done
        last = retry
        url = where()
        if retry.kind == "truncated":
            truncations += 1
            if truncations > 1:
                failure = ProtocolError(
                    f"truncated response from {url.redacted}: the connection closed early twice "
                    f"({retry.message})",
                    url=url.redacted,
                )
                break
        else:
            resets += 1
            if resets > options.max_retries:
                failure = exhausted_error(retry, resets, url)
                break
        wait = backoff(options, resets + truncations) if retry.wait is None else retry.wait
        remaining = state.deadline_at - time.monotonic()
        if wait >= remaining:
            failure = out_of_time(f"the next retry (in {wait:.1f} s) would pass it")
            if retry.kind == "status" and retry.wait is not None and retry.status in (429, 503):
                failure = RateLimited(
                    f"{url.redacted} is rate-limiting us (HTTP {retry.status}) and asks to wait "
                    f"{retry.wait:.0f} s, longer than the time left for this request",
                    url=url.redacted,
                    status=retry.status,
                    retry_after=retry.wait,
                    hint="Try again later.",
                )
            break
        log.debug("retrying %s after %s: waiting %.2f s", url.redacted, retry.message, wait)
        state.sleep(wait)
    raise failure


def exhausted_error(retry: Retryable, tries: int, url: SecretURL) -> OmeTiffError:
    """The error once ``tries`` attempts failed, the last with ``retry``."""
    where = url.redacted
    if retry.kind == "status" and retry.status == 429:
        return RateLimited(
            f"{where} kept answering HTTP 429 (too many requests) after {tries} attempts",
            url=where,
            status=429,
            retry_after=retry.wait,
            hint="Wait a minute and try again.",
        )
    if retry.kind == "status":
        return ServerError(
            f"the server kept failing (HTTP {retry.status}) after {tries} attempts for {where}",
            url=where,
            status=retry.status,
            hint="The server has a problem; try again later or ask its administrators.",
        )
    if retry.kind == "timeout":
        return DeadlineExceeded(
            f"no answer from {url.host} after {tries} attempts ({retry.message})",
            url=where,
            hint="The server is too slow or unreachable; try again later.",
        )
    return ProtocolError(
        f"the connection to {url.host} kept breaking after {tries} attempts ({retry.message})",
        url=where,
    )


def exc_kind(exc: BaseException) -> str:
    """The telling name in an exception chain (ConnectionResetError, IncompleteRead, timeout, ...)."""
    seen: set[int] = set()
    names: list[str] = []
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        names.append(type(cur).__name__)
        cur = cur.__cause__ or cur.__context__
    for wanted in (
        "ConnectionResetError",
        "BrokenPipeError",
        "RemoteDisconnected",
        "IncompleteRead",
        "timeout",
    ):
        if wanted in names or any(wanted in repr(a) for a in getattr(exc, "args", ())):
            return wanted
    return names[-1] if names else "error"


def body_failure(exc: BaseException, got: int, expected: int) -> Retryable:
    """A failure while reading a body (after ``got`` of ``expected`` bytes) as a retryable one."""
    kind = exc_kind(exc)
    text = f"{kind} after {got:,} of {expected:,} bytes"
    if kind == "IncompleteRead":
        return Retryable("truncated", text)
    if "timeout" in kind.lower() or "Timeout" in type(exc).__name__:
        return Retryable("timeout", text)
    return Retryable("reset", text)
