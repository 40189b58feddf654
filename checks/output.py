"""What every ``redisops`` command does alike with what it prints: the report's format and where it
goes (``--format``, ``--output``), the kit's version in every JSON, progress lines that ``--quiet``
silences, and the usage error (exit 64).

Standard library only: every part of the package may import it, on the control node and on the
hosts the bundle goes to.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from redisops import version
from redisops.core import exits

FORMATS = ("text", "json")
VERSION_KEY = "redisops_version"
QUIET_HELP = "print only the result and errors: no progress lines on standard error"

# Process-wide, not a context variable: a drill's progress also comes from its worker threads.
_QUIET = [False]


class UsageError(Exception):
    """The command line is wrong; the message says what to give instead (exit 64)."""


# --------------------------------------------------------------------------- options


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """-q/--quiet, on every parser: absent unless given, so that a subcommand's parser does not
    reset what ``redisops -q`` set (read it with ``getattr(args, "quiet", False)``)."""
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)


def add_format_args(
    parser: argparse.ArgumentParser,
    formats: tuple[str, ...] = FORMATS,
    default: str = "text",
    what: str = "the report",
) -> None:
    """--format and --output, the same on every command that has a result."""
    parser.add_argument(
        "--format", choices=formats, default=default, help=f"how to print {what} (default {default})"
    )
    parser.add_argument(
        "--output", metavar="FILE", help=f"write {what} to FILE (atomically) instead of standard output"
    )


def exit_codes(described: dict[int, str] | None = None) -> str:
    """An epilog listing a command's exit codes (all of them when not given); the usage error's
    is on every one."""
    codes = dict(exits.DESCRIPTIONS) if described is None else dict(described)
    codes.setdefault(exits.USAGE, dict(exits.DESCRIPTIONS)[exits.USAGE])
    return "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in sorted(codes.items()))


# --------------------------------------------------------------------------- reports


def versioned(report: dict) -> dict:
    """The report with the kit's version first, as every JSON redisops writes carries it."""
    return {VERSION_KEY: version(), **{k: v for k, v in report.items() if k != VERSION_KEY}}


def to_json(report: dict, indent: int | None = 2) -> str:
    """A report as JSON, with the kit's version, ending in a newline."""
    return json.dumps(versioned(report), indent=indent) + "\n"


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Readers (node_exporter, a browser, a playbook) never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def emit(text: str, output: str | None = None, mode: int = 0o644) -> None:
    """The result: to --output (atomically) when given, else to standard output."""
    if text and not text.endswith("\n"):
        text += "\n"
    if output:
        write_atomically(Path(output), text, mode)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


# --------------------------------------------------------------------------- progress


@contextlib.contextmanager
def quiet(on: bool) -> Iterator[None]:
    """While it lasts, ``progress`` prints nothing when ``on``."""
    before, _QUIET[0] = _QUIET[0], bool(on)
    try:
        yield
    finally:
        _QUIET[0] = before


def is_quiet() -> bool:
    return _QUIET[0]


def progress(line: str) -> None:
    """A line about what the command is doing, on standard error; none with --quiet."""
    if not _QUIET[0]:
        print(line, file=sys.stderr, flush=True)
