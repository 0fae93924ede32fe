"""The store's one error type (kept free of the driver import so the CLI can catch it cheaply)."""


class StoreError(Exception):
    """A store problem, as one line: a bad URL, a store that cannot be reached, a schema at another version, a
    conflict that retries did not resolve. The CLI prints ``error: <message>`` and exits 1."""
