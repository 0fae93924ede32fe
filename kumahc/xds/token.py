"""The ``--admin-token-file`` of ``serve``: read at start, re-read when the file changes.

Operators rotate the token in place: a Kubernetes Secret volume swaps its ``..data`` symlink to a new directory,
other tools rewrite or rename over the file. Each protected admin request first stats the path (following
symlinks); when device, inode, size, mtime or ctime differ from the version in use, the file is read again. A good
new token applies from that request on and the old one stops working. A changed file that cannot be used (gone,
unreadable, empty, whitespace inside) keeps the token in use and is reported once per distinct bad state, the way
:class:`kumahc.xds.tls.Rotating` treats the TLS files.
"""

from __future__ import annotations

import os
from collections.abc import Callable

FLAG = "--admin-token-file"

# What identifies one version of the file: (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) of the resolved
# path, or ("error", errno) when the path cannot be stat'ed. A symlink swap changes the inode, a rewrite the
# size/mtime/ctime.
Stamp = tuple[object, ...]


def _stamp(st: os.stat_result) -> Stamp:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _parse(path: str, text: str) -> str:
    """``text`` without surrounding whitespace. Raises ValueError (one line naming ``path``): empty, or
    whitespace inside."""
    token = text.strip()
    if not token or any(c.isspace() for c in token):
        raise ValueError(f"{FLAG} {path}: must hold one token (no spaces), got "
                         f"{'an empty file' if not token else 'whitespace inside'}")
    return token


def _cannot_read(path: str, exc: OSError | UnicodeDecodeError) -> ValueError:
    reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else "not UTF-8"
    return ValueError(f"{FLAG} {path}: cannot read: {reason}")


def _load(path: str) -> tuple[str, Stamp]:
    """The token in ``path`` and the stamp of the very file it was read from (``fstat`` of the open file, so a
    swap between ``stat`` and ``open`` is seen as a change on the next check)."""
    try:
        with open(path, encoding="utf-8") as fh:
            stamp = _stamp(os.fstat(fh.fileno()))
            text = fh.read()
            if _stamp(os.fstat(fh.fileno())) != stamp:
                # Rewritten in place while we read it: the text may be half of the new token.
                raise ValueError(f"{FLAG} {path}: changed while being read")
    except (OSError, UnicodeDecodeError) as exc:
        raise _cannot_read(path, exc) from None
    return _parse(path, text), stamp


class RotatingToken:
    """The token of ``path``, re-read by :meth:`current` when the file changed.

    ``on_change(message)`` is called after a changed file was loaded, ``on_error(message)`` once for each
    distinct unusable state (the same bad file, or the same ``stat`` error, is not reported again). Raises
    ValueError with a one-line message naming the file when it is unusable at construction: cannot be read
    (``--admin-token-file PATH: cannot read: <reason>``), not UTF-8, empty or whitespace inside. Not
    thread-safe: used from the admin server's event loop only."""

    def __init__(self, path: str, on_change: Callable[[str], None], on_error: Callable[[str], None]):
        self.path = path
        self.token, self._stamp = _load(path)
        self._on_change = on_change
        self._on_error = on_error
        self._failed: Stamp | None = None

    def current(self) -> str:
        """The token to check a request against: the newest good version of the file."""
        try:
            stamp = _stamp(os.stat(self.path))
        except OSError as exc:
            self._fail(("error", exc.errno), str(_cannot_read(self.path, exc)))
            return self.token
        if stamp in (self._stamp, self._failed):
            return self.token
        try:
            token, read_stamp = _load(self.path)
        except ValueError as exc:
            self._fail(stamp, str(exc))
            return self.token
        self.token, self._stamp, self._failed = token, read_stamp, None
        self._on_change(f"admin token file reloaded: {self.path}")
        return self.token

    def _fail(self, state: Stamp, message: str) -> None:
        if state != self._failed:
            self._on_error(f"admin token file not reloaded ({message}); keeping the last good token")
        self._failed = state
