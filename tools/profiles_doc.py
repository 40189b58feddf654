"""Write the profile table of docs/profiles.md from the one table (core/profiles.py).

    python tools/profiles_doc.py          rewrite the table between the markers
    python tools/profiles_doc.py --check  exit 1 when docs/profiles.md's table is stale

tests/unit/test_profiles.py fails while the page and the table disagree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins" / "module_utils"))
from core import profiles  # noqa: E402 - the core package, standard library only

PAGE = REPO / "docs" / "profiles.md"
BEGIN = "<!-- profiles table: written by tools/profiles_doc.py -->"
END = "<!-- end of profiles table -->"
COLUMNS = (
    ("name", "profile"),
    ("maxmemory_policy", "maxmemory-policy"),
    ("save", "RDB"),
    ("appendonly", "AOF"),
    ("min_replicas_to_write", "min-replicas-to-write"),
    ("min_replicas_max_lag", "min-replicas-max-lag (s)"),
    ("lazyfree", "lazyfree"),
    ("restart_on_failure", "restart on failure"),
    ("policies", "policies allowed"),
    ("failover_loss", "a failover may lose"),
)


def table() -> str:
    rows = [
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in profiles.documentation():
        rows.append(
            "| "
            + " | ".join(f"`{row['name']}`" if key == "name" else str(row[key]) for key, _ in COLUMNS)
            + " |"
        )
    return "\n".join([BEGIN, *rows, END])


def rendered(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + table() + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is stale, change nothing")
    args = parser.parse_args(argv)
    text = PAGE.read_text()
    new = rendered(text)
    if args.check:
        if new != text:
            print("docs/profiles.md: stale, run 'python tools/profiles_doc.py'", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
