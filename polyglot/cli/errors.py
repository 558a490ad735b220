"""Turn a user's mistake into one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from polyglot.config import ConfigError

F = TypeVar("F", bound=Callable)
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def friendly_errors(command: F) -> F:
    """Expected errors (a wrong config, a path that is not what it should be, a file that cannot
    be read or written) become one line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ConfigError as err:
            fail(str(err))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as err:
            fail(f"{err.filename or ''}: {err.strerror or err}".lstrip(": "))
        except OSError as err:
            if err.errno == errno.ENOSPC:
                fail(f"{err.filename or ''}: no space left on the device".lstrip(": "))
            raise

    return wrapper  # type: ignore[return-value]
