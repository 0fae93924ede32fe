"""Connecting to the store, and turning every driver error into one :class:`StoreError` line.

The store is named by libpq's URI, ``postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DBNAME[?PARAM=VALUE…]``
(``postgres://`` too, the scheme in any case), or by libpq's ``key=value`` connection string: every libpq
parameter works (``sslmode``, ``connect_timeout``, …). Every message, log line and ``/status`` shows it through
:func:`redact`: passwords replaced by ``***``, and a value libpq cannot parse never shown at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import set_json_loads

from kumahc.diagnostics import one_line
from kumahc.sources.store.errors import StoreError

SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT_S = 5  # unless the URL says otherwise: a store that does not answer is an error, not a hang
STATEMENT_TIMEOUT_MS = 60_000  # unless the URL sets "options": kumahc's statements take milliseconds
URL_SHAPE = "postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DBNAME"
MASK = "***"
PLACEHOLDER = "<store URL not shown: it cannot be parsed>"
SECRETS = frozenset({"password", "sslpassword"})  # libpq parameters never shown
_URL = re.compile(r"(?s)^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$")


def redact(text: str) -> str:
    """``text`` (a store URL or ``key=value`` connection string) as messages show it: ``password`` and
    ``sslpassword`` replaced by ``***`` wherever they are (``postgresql://kumahc:***@db/kumahc``,
    ``…?password=***``, ``user=kumahc password=*** host=db``; a URL's scheme and layout kept); :data:`PLACEHOLDER`
    when libpq cannot parse it (its parser, through psycopg, decides what is a password). A password holding an
    unencoded ``@`` or ``/``, which libpq splits wrongly, is hidden whole (everything up to the last ``@``).
    ``PGPASSWORD`` is never read here: it is not part of the text."""
    parsed = _parse(text)
    if parsed is None:
        return PLACEHOLDER
    m = _URL.match(text)
    if m is None:  # key=value: libpq's own form, re-made with the secrets masked
        return make_conninfo("", **{k: MASK if k in SECRETS else v for k, v in parsed.items()})
    scheme, rest = m.groups()
    userinfo, tail = _userinfo(rest, parsed)
    if userinfo is not None and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":" + MASK
    return f"{scheme}://" + ("" if userinfo is None else userinfo + "@") + _mask_query(tail)


def _parse(text: str) -> dict[str, Any] | None:
    """libpq's parameters of ``text`` (a URL's scheme taken in any case), or None when it cannot be parsed."""
    m = _URL.match(text)
    if m is not None:
        if m.group(1).lower() not in SCHEMES:
            return None
        text = m.group(1).lower() + "://" + m.group(2)
    try:
        return conninfo_to_dict(text)
    except psycopg.Error:
        return None


def _misparsed(parsed: dict[str, Any]) -> bool:
    """libpq split a password holding an unencoded ``@`` or ``/`` elsewhere: an ``@`` lands in the host or the
    database name."""
    return any("@" in str(parsed.get(k, "")) for k in ("host", "dbname"))


def _userinfo(rest: str, parsed: dict[str, Any]) -> tuple[str | None, str]:
    """A URL's text after ``scheme://`` → (``USER[:PASSWORD]`` or None, the rest). libpq's rule (an ``@`` before
    the first ``/``), except when libpq misparsed a password (:func:`_misparsed`): then up to the last ``@``."""
    if _misparsed(parsed):
        at = rest.rfind("@")
    else:
        stop = re.search(r"[@/]", rest)
        at = stop.start() if stop is not None and stop.group() == "@" else -1
    return (None, rest) if at < 0 else (rest[:at], rest[at + 1:])


def _mask_query(tail: str) -> str:
    """``HOST…/DB?K=V&…`` with the values of :data:`SECRETS` parameters (names percent-decoded) masked; also in a
    tail without ``?`` (what follows a misparsed password may still hold parameters)."""
    head, sep, query = tail.partition("?")
    if not sep:
        head, query = "", tail
    items = []
    for item in query.split("&"):
        key, eq, _ = item.partition("=")
        items.append(f"{key}={MASK}" if eq and unquote(key) in SECRETS else item)
    return head + sep + "&".join(items)


def normalized(text: str) -> str:
    """``text`` as libpq takes it: a URL's scheme in lower case (libpq knows only ``postgresql://`` and
    ``postgres://``; URI schemes are case-insensitive)."""
    m = _URL.match(text)
    return text if m is None else m.group(1).lower() + "://" + m.group(2)


def scrub(message: str) -> str:
    """A driver message about a connection string with every quoted value hidden (``missing "=" after "…"``
    quotes the text itself) but quoted parameter names kept (``invalid URI query parameter: "bogus"``)."""
    return re.sub(r'"([^"]*)"', lambda m: m.group(0) if re.fullmatch(r"[A-Za-z_]+", m.group(1)) else '"…"',
                  message)


def _loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # integers beyond 64 bits: the standard library takes them
        return json.loads(data)


def first_line(exc: BaseException) -> str:
    """The driver's message, first line only (libpq adds hints on further lines)."""
    text = str(exc).strip()
    return one_line(text.splitlines()[0] if text else type(exc).__name__)


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection to the store at ``url`` (callers open transactions explicitly). Raises
    :class:`StoreError` for a URL that is not PostgreSQL's or cannot be parsed, and for a store that cannot be
    reached (within :data:`CONNECT_TIMEOUT_S` seconds unless the URL sets ``connect_timeout``). A statement or lock
    wait longer than :data:`STATEMENT_TIMEOUT_MS` fails (unless the URL sets ``options``) rather than hanging."""
    extra = _extra(url)
    try:
        conn = psycopg.connect(normalized(url), autocommit=True, application_name="kumahc", **extra)
    except psycopg.Error as exc:
        raise ConnectError(url, first_line(exc)) from None
    set_json_loads(_loads, conn)
    return conn


class ConnectError(StoreError):
    """libpq could not open a session: the server unreachable, authentication refused, no such database.
    ``detail``: libpq's first line (what :func:`first_line` gives)."""

    def __init__(self, url: str, detail: str):
        super().__init__(f"store {one_line(redact(url))}: cannot connect: {detail}")
        self.detail = detail


def check_url(url: str) -> None:
    """Raise :class:`StoreError` for what :func:`connect` refuses before connecting (see :func:`_extra`)."""
    _extra(url)


def _extra(url: str) -> dict[str, Any]:
    """Connection parameters kumahc adds unless the URL sets them. Raises :class:`StoreError` for a URL that is not
    PostgreSQL's, cannot be parsed, or holds a password libpq would split (an unencoded ``@`` or ``/``)."""
    m = _URL.match(url)
    if m is not None and m.group(1).lower() not in SCHEMES:
        raise StoreError(f"--store: a {one_line(m.group(1))}:// URL is not a PostgreSQL URL ({URL_SHAPE})")
    try:
        params = conninfo_to_dict(normalized(url))
    except psycopg.Error as exc:
        raise StoreError(f"--store: not a valid PostgreSQL URL or key=value connection string ({PLACEHOLDER}): "
                         f"{scrub(first_line(exc))}") from None
    if m is None and not params:
        raise StoreError(f"--store: empty connection string ({URL_SHAPE})")
    if m is not None and _misparsed(params):
        raise StoreError(f'--store: "{one_line(redact(url))}" is not a valid PostgreSQL URL: "@" after the host '
                         'name (percent-encode "@" as %40 and "/" as %2F in a password)')
    extra: dict[str, Any] = {} if "connect_timeout" in params else {"connect_timeout": CONNECT_TIMEOUT_S}
    if "options" not in params:
        extra["options"] = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}"
    return extra


async def connect_async(url: str) -> psycopg.AsyncConnection:
    """:func:`connect` for asyncio (``serve``'s LISTEN connection): same parameters, same errors."""
    extra = _extra(url)
    try:
        conn = await psycopg.AsyncConnection.connect(normalized(url), autocommit=True, application_name="kumahc",
                                                     **extra)
    except psycopg.Error as exc:
        raise StoreError(f"store {one_line(redact(url))}: cannot connect: {first_line(exc)}") from None
    set_json_loads(_loads, conn)
    return conn


@contextmanager
def session(url: str) -> Iterator[psycopg.Connection]:
    """:func:`connect`, closed at the end; any driver error inside becomes ``store URL: <message>``."""
    conn = connect(url)
    try:
        with conn:
            yield conn
    except psycopg.Error as exc:
        raise StoreError(f"store {one_line(redact(url))}: {first_line(exc)}") from None
