"""The ``forage`` command: builds the Typer app from the command modules and turns every error into
one clear line and a non-zero exit (a traceback only with ``--debug``).

Each command module exposes ``register(app)``; adding a command is adding its module name below.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer
from rich.console import Console

from forage.core.errors import ConfigError, ForageError

COMMAND_MODULES = ("ask", "bench", "data", "world")

err_console = Console(stderr=True, soft_wrap=True)


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
    ) -> None:
        level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
        for noisy in ("bm25s", "httpx"):  # bm25s sets its own logger to DEBUG on import
            logging.getLogger(noisy).setLevel(max(level, logging.INFO if noisy == "httpx" else level))

    for name in COMMAND_MODULES:
        importlib.import_module(f"forage.cli.{name}").register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    app = build_app()
    try:
        # Typer reports its own usage errors (bad option values) and exits 2.
        app(args, prog_name="forage", standalone_mode=True)
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except ForageError as e:
        if debug:
            raise
        code = 2 if isinstance(e, ConfigError) else 1
        err_console.print(f"[bold red]error:[/] {e}", highlight=False)
        return code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as e:  # a bug: still one line unless --debug
        if debug:
            raise
        err_console.print(
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
