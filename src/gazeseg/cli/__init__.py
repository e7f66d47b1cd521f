"""The ``gazeseg`` command. Each subcommand lives in its own module with a ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import sys

from gazeseg import __version__
from gazeseg.core.errors import GazesegError

#: Subcommand modules, in help order. Each defines ``register(subparsers)`` and sets ``func``.
COMMAND_MODULES = (
    "gazeseg.cli.app_cmd",
    "gazeseg.cli.segment_cmd",
    "gazeseg.cli.models_cmd",
    "gazeseg.cli.embed_cmd",
    "gazeseg.cli.eval_cmd",
    "gazeseg.cli.gaze_cmd",
    "gazeseg.cli.retina_cmd",
    "gazeseg.cli.finetune_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gazeseg", description="Segment images with your eyes.")
    parser.add_argument("--version", action="version", version=f"gazeseg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:  # not written yet in this checkout
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (GazesegError, FileNotFoundError) as error:
        print(f"gazeseg {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
