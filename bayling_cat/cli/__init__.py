"""The command line (click): one module per command group, the options they share in options.py, the frame
(one line per error, exit codes) in base.py. A thin shell over the file pipeline, the server and the memory;
it never imports torch or transformers (conversion of the default model runs in a child process)."""

from bayling_cat.cli import adapt, evaluate, memory, models, serve, translate  # noqa: F401 - each registers its commands
from bayling_cat.cli.base import cli
from bayling_cat.cli.options import file_to_write, load_engine


def main():
    cli(prog_name="bayling-cat")


__all__ = ["cli", "file_to_write", "load_engine", "main"]
