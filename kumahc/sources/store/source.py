"""The store as a pipeline source: connect, check the schema version, read one snapshot."""

from __future__ import annotations

from kumahc.sources.store import connection, schema, state


def snapshot(url: str, parts: bool = False, keys: set[tuple[str, str]] | None = None) -> state.State:
    """The store at ``url`` as one consistent snapshot (its :meth:`~state.State.loader` feeds
    :func:`kumahc.pipeline.run`). Raises :class:`~kumahc.sources.store.errors.StoreError` for a bad URL, a store
    that cannot be reached or one at another schema version. ``parts``: also read the rendered parts
(:func:`kumahc.sources.store.rendered.read`); with ``keys`` too, only those proxies' parts
(:func:`kumahc.sources.store.rendered.read_connected`)."""
    with connection.session(url) as conn:
        schema.check(conn, connection.redact(url))
        return state.read(conn, parts=parts, keys=keys)
