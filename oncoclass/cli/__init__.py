"""The ``oncoclass`` command line. Each module adds its commands to the one Typer ``app``."""

from oncoclass.cli import admin, annotate, commands  # noqa: F401  (registers the commands)
from oncoclass.cli.common import app

__all__ = ["app"]

if __name__ == "__main__":
    app()
