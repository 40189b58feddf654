"""The shell commands the project's pages show, as a reader would copy them.

Pages: README.md, docs/*.md and the roles' generated READMEs. A command lives in a fenced block
tagged ``sh`` or ``console``; other blocks (yaml, text, untagged) hold no commands.

- ``sh``: every line is shell. Whole-line comments and trailing comments are dropped; a line
  ending in a backslash continues on the next; a compound command (``for``/``while``/``until``
  ... ``done``, ``if`` ... ``fi``, ``case`` ... ``esac``, a ``{ ... }`` body) is one command
  until it closes.
- ``console``: only lines with a ``$ `` prompt are commands (the prompt is dropped); the other
  lines are output.

Nothing is substituted: a command is its text as written, placeholders included.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
COMMAND_BLOCKS = ("sh", "console")
OPENERS = {"do", "then", "{", "case"}
CLOSERS = {"done", "fi", "}", "esac"}


@dataclass(frozen=True)
class Command:
    text: str  # as the shell reads it: continuations joined, comments dropped
    path: str  # the page, relative to the repository
    line: int  # where the command starts on the page

    @property
    def key(self) -> str:
        """The text with runs of whitespace as one space: how the classification table names it."""
        return " ".join(self.text.split())

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.key}"


def pages(repo: Path = REPO) -> list[Path]:
    return [
        repo / "README.md",
        *sorted((repo / "docs").glob("*.md")),
        *sorted((repo / "roles").glob("*/README.md")),
    ]


def blocks(text: str) -> Iterator[tuple[str, int, list[str]]]:
    """(tag, line number of the block's first line, lines) of every fenced block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, tag = m.group(2), m.group(3).lower()
        body, start = [], i + 2
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        yield tag, start, body


def strip_comment(line: str) -> str:
    """``line`` without a comment: a ``#`` that starts a word outside quotes, and what follows."""
    quote, escaped = "", False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _depth(text: str) -> int:
    """How many compound commands ``text`` opens and leaves open (negative: closes)."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:  # an open quote: the command continues
        return 1
    return sum(t in OPENERS for t in tokens) - sum(t in CLOSERS for t in tokens)


def _sh_commands(lines: list[str], start: int) -> Iterator[tuple[int, str]]:
    text, first, depth = "", 0, 0
    for offset, raw in enumerate(lines):
        line = strip_comment(raw)
        if not text and not line.strip():
            continue
        if not text:
            first = start + offset
        if line.endswith("\\"):
            text += line[:-1]
            continue
        text += line
        depth = _depth(text)
        if depth > 0:
            text += "\n"
            continue
        yield first, text.strip()
        text = ""
    if text.strip():
        yield first, text.strip()


def _console_commands(lines: list[str], start: int) -> Iterator[tuple[int, str]]:
    prompted = [(i, line[2:]) for i, line in enumerate(lines) if line.startswith("$ ")]
    for offset, line in prompted:
        yield from _sh_commands([line], start + offset)


def commands_in(text: str, path: str) -> list[Command]:
    found = []
    for tag, start, lines in blocks(text):
        if tag not in COMMAND_BLOCKS:
            continue
        parse = _sh_commands if tag == "sh" else _console_commands
        found += [Command(cmd, path, line) for line, cmd in parse(lines, start)]
    return found


def commands(repo: Path = REPO) -> list[Command]:
    """Every command of every page, in page order."""
    found = []
    for page in pages(repo):
        if page.is_file():
            found += commands_in(page.read_text(), page.relative_to(repo).as_posix())
    return found


SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")


def words(text: str) -> list[str]:
    """The words of a simple command, as the shell splits them (quotes removed; a command
    substitution ``$(...)`` is one word, for reading only: nothing runs it)."""
    return shlex.split(SUBSTITUTION.sub("SUBST", text), comments=False, posix=True)


def program(argv: list[str]) -> tuple[str, list[str]]:
    """(the program a command runs, its arguments): leading VAR=value, sudo and env skipped."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word) or word in ("sudo", "env"):
            i += 1
            continue
        return word, argv[i + 1 :]
    return "", []


def options(args: list[str]) -> list[str]:
    """The options a command uses: ``--name`` or ``-x`` (``--name=value`` as ``--name``)."""
    found = []
    for word in args:
        word = word.strip("[]")
        if word == "--":
            break
        if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", word):
            found.append(word.split("=", 1)[0])
    return found


SEPARATORS = {";", "&&", "||", "|", "(", ")", "&", "{", "do", "then", "else", "elif", "\n"}
RESERVED = {"for", "while", "until", "if", "case", "done", "fi", "esac", "}", "in", "!"}
REDIRECTS = {"<", ">", ">>", "2>", "2>>", "&>", "<<<"}


def programs_of(text: str) -> tuple[list[str], list[str]]:
    """(the programs a command runs, the shell functions it defines), in order: the word at the
    start of each simple command, leading VAR=value, sudo and env skipped."""
    found, functions = [], []
    for inner in SUBSTITUTION.findall(text):
        found += programs_of(inner)[0]
    text = SUBSTITUTION.sub("SUBST", text)
    lexer = shlex.shlex(text.replace("\n", " ; "), posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens = list(lexer)
    at_start, skip_to_do = True, False
    for i, token in enumerate(tokens):
        if skip_to_do:  # for NAME in WORDS; do
            skip_to_do = token != "do"
            at_start = not skip_to_do
            continue
        if token in SEPARATORS or token == "()":
            at_start = True
            continue
        if not at_start:
            continue
        if token == "for":
            skip_to_do = True
            continue
        if token in RESERVED or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", token) or token in ("sudo", "env"):
            continue
        if i + 1 < len(tokens) and tokens[i + 1] == "()":
            functions.append(token)
        else:
            found.append(token)
        at_start = False
    return found, functions


def without_redirects(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the words without redirections, the files read with ``<``)."""
    kept, read = [], []
    skip = None
    for word in argv:
        if skip is not None:
            if skip == "<":
                read.append(word)
            skip = None
        elif word in REDIRECTS:
            skip = word
        else:
            kept.append(word)
    return kept, read
