"""The one error guard every command runs under: never a traceback, and a closed standard output ends quietly.

:class:`GuardedGroup` is the ``kumahc`` group's class; its :meth:`~GuardedGroup.invoke` runs the chosen command
(and its option callbacks) inside :func:`guard`, so each command is guarded once, by construction."""

from __future__ import annotations

import os
import select
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from kumahc.commands.output import fail
from kumahc.sources.store.errors import StoreError

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for `cat` killed by SIGPIPE: 141
STDOUT_FD = 1  # the process's standard output, whatever object sys.stdout is now


def stdout_reader_gone() -> bool:
    """True when standard output is a pipe or socket whose reading end is closed (``| head -1`` has exited): the
    kernel reports POLLERR on the writing end then. Another BrokenPipeError (a FIFO given to ``-o``) is not this."""
    try:
        poller = select.poll()
        poller.register(STDOUT_FD, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except OSError:
        return False


def quiet_broken_pipe() -> NoReturn:
    """End like ``cat`` in ``cat FILE | head -1``: no message, exit :data:`EXIT_BROKEN_PIPE`. Standard output is
    pointed at /dev/null first, so flushing what is still buffered at interpreter exit cannot print "Exception
    ignored ... BrokenPipeError" (the recipe of Python's signal module documentation)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, STDOUT_FD)
    os.close(devnull)
    sys.exit(EXIT_BROKEN_PIPE)


def internal(exc: BaseException) -> NoReturn:
    """``error: internal: <Type>: <message>``, exit 1."""
    click.echo(f"error: internal: {type(exc).__name__}: {exc}", err=True)
    sys.exit(1)


def guard(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` and return its value. Never a traceback: an unexpected exception becomes
    ``error: internal: <Type>: <message>``, exit 1; a store failure is its one ``error:`` line, exit 1. Standard
    output closed by its reader (``kumahc render … | head -1``) ends quietly (:func:`quiet_broken_pipe`). Exits,
    interrupts and click's usage errors pass through (click prints them, exit 2)."""
    try:
        try:
            return fn()
        finally:
            # Here, not at interpreter exit, where a closed pipe could only be reported as "Exception ignored".
            sys.stdout.flush()
    except (SystemExit, KeyboardInterrupt, click.exceptions.Exit, click.ClickException):
        raise
    except BrokenPipeError as exc:
        if stdout_reader_gone():
            quiet_broken_pipe()
        internal(exc)
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the last line of defence of the CLI
        internal(exc)


class GuardedGroup(click.Group):
    """A click group whose subcommand (and any nested group's) runs under :func:`guard`."""

    def invoke(self, ctx: click.Context) -> Any:
        return guard(lambda: super(GuardedGroup, self).invoke(ctx))
