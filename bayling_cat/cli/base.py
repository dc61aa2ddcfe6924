"""The command line's frame: the ``bayling-cat`` group, and one line on standard error with a non-zero exit code
for every error (never a traceback). Commands live one group a module (translate.py, memory.py, serve.py,
evaluate.py, models.py); the options they share in options.py."""

from __future__ import annotations

import os
import sys

import click

from bayling_cat import __version__
from bayling_cat.errors import UserError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def say(message: str) -> None:
    click.echo(message, err=True)


EXIT_USAGE = 2  # click's code for a bad option or argument


class _Cli(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            say(f"bayling-cat: error: {exc}")
            ctx.exit(EXIT_ERROR)
        except click.UsageError as exc:
            # one line like every other error, not click's three-line usage block
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            say(f"bayling-cat: error: {exc.format_message().rstrip('.')}{where}")
            ctx.exit(EXIT_USAGE)
        except OSError as exc:
            # a file system error nothing below turned into a UserError (a full disk, a vanished folder)
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            say(f"bayling-cat: error: {where}{exc.strerror or exc}")
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            say("bayling-cat: interrupted")
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # the reader went away (e.g. `| head`): not an error of ours
            try:
                sys.stdout = open(os.devnull, "w")
            finally:
                ctx.exit(0)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bayling-cat")
def cli():
    """bayling-cat: BayLing machine translation for CAT tools, on CTranslate2."""


