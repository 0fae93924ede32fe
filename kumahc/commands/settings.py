"""Settings of a long-running command (``serve``) from three places besides its flags: ``$KUMAHC_<OPTION>``, a
YAML config file (``--config FILE`` or ``$KUMAHC_CONFIG``) and the defaults, in that order of precedence (flag >
environment > file > default; issue 23 item 5, docs/serve.md "Settings: flags, environment, config file").

It is derived from the click command's own options, so an option added to the command is reachable from both
places without more code: the variable is ``KUMAHC_`` and the option's long name upper-cased with dashes as
underscores (``--xds-address`` → ``$KUMAHC_XDS_ADDRESS``; an option that names its own variable, as ``--store``
does with ``$KUMAHC_STORE``, keeps it), the file key is the long name without its leading dashes
(``xds-address``). Values from both are converted and checked by the option's own type and callback, exactly as
a flag's value is, through click's ``envvar`` and ``default_map``. ``--print-config`` prints the effective
settings as YAML, each with its source, secrets masked."""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import yaml
from click.core import ParameterSource

from kumahc.resources.yaml.errors import TooLarge
from kumahc.resources.yaml.loaders import Loader

ENV_PREFIX = "KUMAHC_"
CONFIG_ENV = "KUMAHC_CONFIG"
MASK = "***"
# Words that make an option's value a secret in --print-config unless the value is a path (metavar FILE): the
# file holding a token is no secret, the token is.
SECRET_WORDS = ("token", "password", "secret", "credential")
# The password of any other URL's user information (scheme://user:password@host).
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*):[^/@]*@")
_META = "kumahc.settings"  # ctx.meta key: {"file": path or None, "given": {param name: value before callback}}
_OWN = ("config", "print_config")  # the options this module adds: not settings themselves


def option_name(param: click.Option) -> str:
    """The long name without dashes (``xds-address``; ``ui`` for ``--ui/--no-ui``): the config file's key."""
    longs = [o for o in param.opts if o.startswith("--")] or param.opts
    return max(longs, key=len).lstrip("-")


def env_name(param: click.Option) -> str:
    """``$KUMAHC_<OPTION>`` of ``param`` without the ``$``: the variable it names itself, else derived from
    :func:`option_name` (upper case, dashes → underscores)."""
    if isinstance(param.envvar, str):
        return param.envvar
    return ENV_PREFIX + option_name(param).upper().replace("-", "_")


def settings(command: click.Command) -> list[click.Option]:
    """The options of ``command`` that are settings: every option with a value, except ``--config`` and
    ``--print-config`` themselves (``--help`` has none)."""
    return [p for p in command.params if isinstance(p, click.Option) and p.expose_value and p.name not in _OWN]


def _recording(callback: Callable[..., Any] | None) -> Callable[..., Any]:
    """``callback`` that first records the value it is given (converted by the option's type, not yet by the
    callback: ``127.0.0.1:0``, not an address object) for ``--print-config``."""

    @functools.wraps(callback or (lambda _ctx, _param, value: value))
    def record(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        ctx.meta.setdefault(_META, {}).setdefault("given", {})[param.name] = value
        return value if callback is None else callback(ctx, param, value)

    record.kumahc_records = True  # type: ignore[attr-defined]
    return record


def _prepare(command: click.Command) -> None:
    """Give every setting of ``command`` its variable and the recording callback (once per option: options added
    after the command was made are covered too)."""
    for param in settings(command):
        if param.envvar is None:
            param.envvar = env_name(param)
        if not getattr(param.callback, "kumahc_records", False):
            param.callback = _recording(param.callback)


# --- the config file ------------------------------------------------------------------------------------------------

def _load(path: str) -> Any:
    """The one YAML document of ``path``; a usage error naming the file when it cannot be read or parsed, or when a
    key appears twice (PyYAML would keep the last one silently)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise click.BadParameter(f"{path}: not UTF-8 text") from None
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value in seen:
                    raise click.UsageError(f"{path}:{key.start_mark.line + 1}: {key.value}: given twice")
                seen.add(key.value if isinstance(key, yaml.ScalarNode) else None)
        return loader.construct_document(node) if node is not None else None
    except TooLarge as exc:
        raise click.UsageError(f"{path}:{exc.line}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise click.UsageError(f"{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else "a value"


def _unknown(path: str, key: str, known: list[str]) -> click.UsageError:
    close = difflib.get_close_matches(key.replace("_", "-"), known, n=3, cutoff=0.6)
    hint = (f"did you mean {' or '.join(close)}?" if close else "the settings are " + ", ".join(known))
    return click.UsageError(f"{path}: {key}: unknown setting; {hint} (keys are the option names without '--', "
                            "with dashes)")


def read_config(path: str, options: list[click.Option]) -> dict[str, Any]:
    """``{param name: value}`` from the config file at ``path``: a YAML mapping whose keys are option names
    without ``--`` (``xds-address``), values a string, number or boolean, or a list for an option given several
    times. A null value is no setting (the default applies). Usage errors (exit 2) name the file and the key: a
    file that cannot be read or is no mapping, an unknown key (with close matches), a list for a single value or
    a single value for a list. The values themselves are checked later by each option, as a flag's value is."""
    data = _load(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.UsageError(f"{path}: must be a mapping of settings (option: value), not {_kind(data)}")
    by_key = {option_name(p): p for p in options}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str) or key not in by_key:
            raise _unknown(path, str(key), sorted(by_key))
        param = by_key[key]
        if value is None:
            continue
        if param.multiple:
            if not isinstance(value, list) or any(isinstance(v, (list, dict)) or v is None for v in value):
                raise click.UsageError(f"{path}: {key}: must be a list of values (one per --{key})")
        elif isinstance(value, (list, dict)):
            raise click.UsageError(f"{path}: {key}: must be one value (a string, number or boolean), not "
                                   f"{_kind(value)}")
        assert param.name is not None
        out[param.name] = [_as_typed(v) for v in value] if isinstance(value, list) else _as_typed(value)
    return out


def _as_typed(value: Any) -> str:
    """A YAML scalar as the text a flag would hold, so the option's type parses it exactly as the flag's: ``1.5``
    for an integer option is refused as on the command line (click would truncate the float), ``true`` stays a
    boolean's text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _config_callback(command: click.Command) -> Callable[[click.Context, click.Parameter, str | None], None]:
    def load(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        ctx.meta.setdefault(_META, {})["file"] = value
        if value is not None and not ctx.resilient_parsing:
            ctx.default_map = read_config(value, settings(command))

    return load


# --- errors that name their source ----------------------------------------------------------------------------------

def source_of(ctx: click.Context, param: click.Parameter) -> str:
    """Where ``param``'s value came from, as messages and ``--print-config`` name it: ``flag``,
    ``$KUMAHC_<OPTION>``, the config file's path, or ``default``."""
    source = ctx.get_parameter_source(param.name) if param.name else None
    if source == ParameterSource.ENVIRONMENT and isinstance(param, click.Option):
        return "$" + env_name(param)
    if source == ParameterSource.DEFAULT_MAP:
        return str(ctx.meta.get(_META, {}).get("file"))
    if source in (ParameterSource.COMMANDLINE, ParameterSource.PROMPT):
        return "flag"
    return "default"


class SettingsCommand(click.Command):
    """A click command whose options are also read from ``$KUMAHC_<OPTION>`` and from ``--config FILE``
    (``$KUMAHC_CONFIG``), with ``--print-config``. A bad value from the environment or the file is a usage error
    (exit 2) naming it: ``Invalid value for $KUMAHC_LOG_FORMAT: …``, ``Invalid value for FILE: log-format: …``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(click.Option(
            ["--config"], metavar="FILE", envvar=CONFIG_ENV, is_eager=True, expose_value=False,
            callback=_config_callback(self),
            help="Read settings from this YAML file (keys: option names without '--', e.g. xds-address); "
                 f"default: ${CONFIG_ENV}. Precedence: flag > ${ENV_PREFIX}<OPTION> > file > default."))
        self.params.append(click.Option(
            ["--print-config"], is_flag=True, expose_value=False,
            callback=lambda ctx, _p, value: ctx.meta.setdefault(_META, {}).update(print=value),
            help="Print the effective settings as YAML, each with its source (secrets masked), and exit."))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        _prepare(self)
        try:
            return super().parse_args(ctx, args)
        except click.BadParameter as exc:
            param = exc.param
            if param is not None and param.name is not None and isinstance(param, click.Option):
                where = source_of(ctx, param)
                if where.startswith("$"):
                    exc.param_hint = where
                elif where not in ("flag", "default"):
                    exc.param_hint = f"{where}: {option_name(param)}"
            raise

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.meta.get(_META, {}).get("print"):
            click.echo(effective(ctx, self), nl=False)
            ctx.exit(0)
        return super().invoke(ctx)


# --- --print-config -------------------------------------------------------------------------------------------------

def _secret(param: click.Option) -> bool:
    name = option_name(param)
    return param.metavar != "FILE" and any(word in name for word in SECRET_WORDS)


def shown(param: click.Option, value: Any) -> Any:
    """``value`` as ``--print-config`` shows it: a store URL's password masked (``postgresql://kumahc:***@db/kumahc``,
    ``?password=***``), as is the password of any other ``scheme://user:password@`` value; the whole value of a
    token-, password- or secret-named option masked; paths and every other value as they are."""
    if value is None:
        return None
    if param.metavar == "URL" and isinstance(value, str):
        from kumahc.sources.store.connection import redact

        return redact(value)
    if _secret(param):
        return [MASK for _ in value] if isinstance(value, (list, tuple)) else MASK
    if isinstance(value, tuple):
        return [_USERINFO.sub(rf"\1:{MASK}@", v) if isinstance(v, str) else v for v in value]
    return _USERINFO.sub(rf"\1:{MASK}@", value) if isinstance(value, str) else value


def _yaml_value(value: Any) -> str:
    """One YAML scalar or flow list on one line, quoted only where YAML needs it."""
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, allow_unicode=True)
    return text.removesuffix("\n...\n").rstrip("\n")


def lines(ctx: click.Context, command: click.Command) -> Iterator[tuple[str, str]]:
    """(``key: value``, source) for every setting of ``command``, in the order of its ``--help``."""
    given: Mapping[str, Any] = ctx.meta.get(_META, {}).get("given", {})
    for param in settings(command):
        assert param.name is not None
        yield f"{option_name(param)}: {_yaml_value(shown(param, given.get(param.name)))}", source_of(ctx, param)


def effective(ctx: click.Context, command: click.Command) -> str:
    """``--print-config``'s output: a comment naming the precedence and the config file, then one
    ``key: value  # source`` line per setting (source: ``flag``, ``$KUMAHC_<OPTION>``, the file's path or
    ``default``), comments aligned. Without its comments it is a config file that gives the same settings."""
    meta = ctx.meta.get(_META, {})
    path = meta.get("file")
    if path is None:
        head = "# config file: none"
    else:
        head = f"# config file: {path}" + (f" (${CONFIG_ENV})" if source_of_config(ctx) == "env" else "")
    rows = list(lines(ctx, command))
    width = max(len(text) for text, _ in rows)
    body = [f"{text.ljust(width)}  # {where}" for text, where in rows]
    return "\n".join([f"# kumahc {ctx.info_name} settings: flag > ${ENV_PREFIX}<OPTION> > config file > default",
                      head, *body]) + "\n"


def source_of_config(ctx: click.Context) -> str:
    """``env`` when the config file came from ``$KUMAHC_CONFIG``, ``flag`` when from ``--config``, else ``none``."""
    source = ctx.get_parameter_source("config")
    return ("env" if source == ParameterSource.ENVIRONMENT else
            "flag" if source == ParameterSource.COMMANDLINE else "none")
