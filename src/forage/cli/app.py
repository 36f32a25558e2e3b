"""The ``forage`` command: builds the Typer app from the command modules and turns every error into
one clear line and a non-zero exit (a traceback only with ``--debug``).

Exit codes: 0 done; 1 a run failed or the machine refused (``ForageError``; a full or read-only
disk is said to be the machine's, not forage's); 2 bad input (``ConfigError`` or an option that
does not parse); 70 a bug in forage ("internal error"); 130 interrupted.

Each command module exposes ``register(app)``; adding a command is adding its module name below.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import sys
from importlib.metadata import PackageNotFoundError, version

import typer
from rich.console import Console

from forage.core.errors import ConfigError, ForageError
from forage.core.files import ENVIRONMENT_ERRNOS, environment_problem

COMMAND_MODULES = ("ask", "bench", "data", "serve", "train", "world")
# Libraries whose DEBUG/INFO logs drown forage's own: shown from WARNING up, even with --debug.
QUIET_LOGGERS = ("httpx", "httpcore", "urllib3", "matplotlib", "PIL", "asyncio", "filelock")

err_console = Console(stderr=True, soft_wrap=True)

# click's exception classes, from typer's public BadParameter (typer vendors click in new releases,
# so ``import click`` would name other classes than the ones raised).
UsageError: type[Exception] = typer.BadParameter.__mro__[1]
ClickException: type[Exception] = UsageError.__mro__[1]
NoArgsIsHelpError: type[Exception] | None = getattr(
    sys.modules[UsageError.__module__], "NoArgsIsHelpError", None
)


def forage_version() -> str:
    try:
        return version("forage")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _Format(logging.Formatter):
    """``warning: message`` (with the logger's name when debugging)."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        where = f" {record.name}" if self.debug else ""
        return f"{record.levelname.lower()}{where}: {text}"


def configure_logging(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Format(debug=level <= logging.DEBUG))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.getLogger("bm25s").setLevel(level)  # bm25s sets its own logger to DEBUG on import


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"forage {forage_version()}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="forage",
        help="Hierarchical test-time search: plan, search, forget finished branches.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def _root(
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Show info logs."),
        _version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                      help="Print forage's version and exit."),
    ) -> None:
        configure_logging(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)

    for name in COMMAND_MODULES:
        importlib.import_module(f"forage.cli.{name}").register(app)
    return app


def _usage_line(e: Exception) -> str:
    """A click usage error as one line, with where to look for help."""
    message = " ".join(e.format_message().split())  # type: ignore[attr-defined]
    ctx = getattr(e, "ctx", None)
    path = ctx.command_path if ctx is not None else "forage"
    return f"{message} (see '{path} --help')"


def _environment_line(e: Exception) -> str | None:
    """The one line for an error of the user's machine that escaped as a plain OSError/SQLite
    error (full or read-only disk, a file where a folder should be), or None for anything else."""
    if isinstance(e, OSError) and e.errno in ENVIRONMENT_ERRNOS:
        return str(environment_problem(e, "cannot use"))
    if isinstance(e, sqlite3.OperationalError):
        text = str(e).lower()
        if "disk is full" in text or "readonly" in text or "unable to open" in text:
            return (f"a database file could not be written ({e}); a problem with this machine's "
                    "files, not with forage")
    return None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    app = build_app()
    try:
        rv = app(args, prog_name="forage", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except typer.Exit as e:
        return int(getattr(e, "exit_code", 0) or 0)
    except UsageError as e:
        if NoArgsIsHelpError is not None and isinstance(e, NoArgsIsHelpError):
            e.show()  # type: ignore[attr-defined]  # `forage` or `forage data` alone: the help
            return int(getattr(e, "exit_code", 2))
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {_usage_line(e)}", highlight=False)
        return 2
    except ClickException as e:
        if debug:
            raise
        message = " ".join(e.format_message().split())  # type: ignore[attr-defined]
        err_console.print(f"[bold red]error:[/] {message}", highlight=False)
        return int(getattr(e, "exit_code", 1))
    except ForageError as e:
        if debug:
            raise
        code = 2 if isinstance(e, ConfigError) else 1
        err_console.print(f"[bold red]error:[/] {e}", highlight=False)
        return code
    except (KeyboardInterrupt, typer.Abort):
        err_console.print("interrupted")
        return 130
    except Exception as e:
        if debug:
            raise
        line = _environment_line(e)
        if line is not None:
            err_console.print(f"[bold red]error:[/] {line}", highlight=False)
            return 1
        err_console.print(  # a bug: still one line unless --debug
            f"[bold red]internal error:[/] {type(e).__name__}: {e} "
            "(rerun with --debug for the traceback)",
            highlight=False,
        )
        return 70


def entry() -> None:
    """The console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
