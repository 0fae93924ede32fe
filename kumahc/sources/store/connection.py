"""Connecting to the store by URL, and turning every driver error into one :class:`StoreError` line.

URL: ``postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DBNAME[?PARAM=VALUE…]`` (``postgres://`` too), libpq's URI
syntax: every libpq parameter works (``sslmode``, ``connect_timeout``, …). Messages name the URL with the password
replaced by ``***``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads

from kumahc.diagnostics import one_line
from kumahc.sources.store.errors import StoreError

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_S = 5  # unless the URL says otherwise: a store that does not answer is an error, not a hang
STATEMENT_TIMEOUT_MS = 60_000  # unless the URL sets "options": kumahc's statements take milliseconds
URL_SHAPE = "postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DBNAME"


def redact(url: str) -> str:
    """``url`` without its password (``postgresql://kumahc:***@db/kumahc``)."""
    return re.sub(r"^([a-z]+://[^:/@?]*):[^@/?]*@", r"\1:***@", url)


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
    try:
        conn = psycopg.connect(url, autocommit=True, application_name="kumahc", **_extra(url))
    except psycopg.Error as exc:
        raise StoreError(f"store {one_line(redact(url))}: cannot connect: {first_line(exc)}") from None
    set_json_loads(_loads, conn)
    return conn


def _extra(url: str) -> dict[str, Any]:
    """Connection parameters kumahc adds unless the URL sets them. Raises :class:`StoreError` for a URL that is not
    PostgreSQL's or cannot be parsed."""
    if not url.startswith(SCHEMES):
        raise StoreError(f'--store: "{one_line(redact(url))}" is not a PostgreSQL URL ({URL_SHAPE})')
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise StoreError(f'--store: "{one_line(redact(url))}" is not a valid PostgreSQL URL: {first_line(exc)}') \
            from None
    extra: dict[str, Any] = {} if "connect_timeout" in params else {"connect_timeout": CONNECT_TIMEOUT_S}
    if "options" not in params:
        extra["options"] = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}"
    return extra


async def connect_async(url: str) -> psycopg.AsyncConnection:
    """:func:`connect` for asyncio (``serve``'s LISTEN connection): same parameters, same errors."""
    extra = _extra(url)
    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, application_name="kumahc", **extra)
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
