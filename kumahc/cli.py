"""``kumahc`` command line (spec 07): the ``kumahc`` click group, one verb per module of :mod:`kumahc.commands`.
This module stays the entry point (``kumahc = "kumahc.cli:main"``, ``from kumahc.cli import main``). Exit codes:
0 ok, 1 invalid input (or golden mismatch, or any failure), 2 usage, 3 ``diff`` found cluster changes."""

from __future__ import annotations

import click

from kumahc.commands.apply import apply_command
from kumahc.commands.completion import CompletingGroup, completion
from kumahc.commands.delete import delete
from kumahc.commands.diff import diff
from kumahc.commands.get import get
from kumahc.commands.golden import golden
from kumahc.commands.inspect import inspect
from kumahc.commands.migrate import migrate
from kumahc.commands.options import CONTEXT_SETTINGS
from kumahc.commands.progress import quiet_option
from kumahc.commands.render import render
from kumahc.commands.serve import serve
from kumahc.commands.store import store_group, store_migrate
from kumahc.commands.validate import validate
from kumahc.commands.version import version

HELP = """kumahc: health-check and circuit-breaker policies ({kinds}) to Envoy clusters.

\b
Each PATH is a YAML/JSON file, a directory (read recursively: *.yaml, *.yml, *.json), or - for a document
stream on standard input (named <stdin> in messages).
Exit codes: 0 ok (warnings allowed), 1 invalid input, 2 usage error, 3 (diff only) some cluster changes.
"""


def _version(ctx: click.Context) -> None:
    from kumahc import __version__

    click.echo(f"kumahc {__version__}")
    ctx.exit()


class _Main(CompletingGroup):
    """The ``kumahc`` group, whose help names the policy kinds from the registry when it is shown: a command line
    that does not render starts without loading the policy families."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.help is not None and "{kinds}" in self.help:
            from kumahc.policies.registry import KINDS

            self.help = self.help.replace("{kinds}", ", ".join(KINDS))
        super().format_help_text(ctx, formatter)


@click.group(cls=_Main, context_settings=CONTEXT_SETTINGS, help=HELP)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, help="Show the version and exit.",
              callback=lambda ctx, _param, value: _version(ctx) if value and not ctx.resilient_parsing else None)
@quiet_option
def main() -> None:
    """The ``kumahc`` group; every command runs under :class:`~kumahc.commands.guard.GuardedGroup`'s guard, and a
    TAB never fails (:class:`~kumahc.commands.completion.CompletingGroup`)."""


main.add_command(render)
main.add_command(validate)
main.add_command(migrate)
main.add_command(serve)
main.add_command(inspect)
main.add_command(diff)
main.add_command(apply_command)
main.add_command(get)
main.add_command(delete)
main.add_command(store_group)
main.add_command(golden)
main.add_command(completion)
main.add_command(version)

# -q/--quiet is accepted before the command (kumahc -q render …) and, like kubectl's global flags, after it, on
# every command that shows progress (kumahc.commands.progress).
for _command in (render, validate, diff, inspect, migrate, apply_command, store_migrate, serve):
    quiet_option(_command)

if __name__ == "__main__":
    main()
