"""The least that any check of a bank must do, written by hand: a bound on `deckgen check`.

A check that says where each problem is written must read every YAML file into nodes that
know their line and column, and must parse once each Markdown text that may hold a link, an
image or math, to find them. This does that and nothing else, on every core, each file going
to a worker whole: PyYAML's C loader composes each file (the bank's and its translations'),
and one markdown-it-py, with the Markdown a bank may write (tables, strikethrough, `$` math),
parses each such text of the file once. No rule is checked, nothing is kept, and nothing is
sent back but a count.

No check that reads every file can take less time than this on the same machine: the
benchmark times it beside the floor, to show how much of a target for `check` is left for
the checking itself.

    python bench/least_check.py BANK [--jobs N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path

import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NOT_TEXT = frozenset({"id", "from", "sources", "tags", "type", "section", "topic", "lint"})
"""Keys whose values are ids or settings, never Markdown."""
MARKS = ("[", "<", "$")
"""Every link, image and reference starts at a `[` or `<`, and all math at a `$`: a text with
none of them holds nothing a check must find by parsing, and is not parsed."""


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": False})
    md.enable(["table", "strikethrough"])
    md.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    return md


MD = _parser()


def _texts(node: yaml.Node, key: str | None = None) -> list[str]:
    """Every scalar under `node` (the value of `key`) that may be Markdown."""
    if key in NOT_TEXT:
        return []
    if isinstance(node, yaml.ScalarNode):
        return [node.value]
    if isinstance(node, yaml.SequenceNode):
        return [text for item in node.value for text in _texts(item, key)]
    if isinstance(node, yaml.MappingNode):
        return [text for k, v in node.value for text in _texts(v, k.value if isinstance(k, yaml.ScalarNode) else None)]
    return []


def read(path: Path) -> int:
    """Compose one file and parse each of its question texts that may hold a link, an image or
    math, once; how many it parsed."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=LOADER)
    if not isinstance(root, yaml.MappingNode):
        return 0
    count = 0
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "questions":
            for text in dict.fromkeys(_texts(value)):
                if any(mark in text for mark in MARKS):
                    MD.parse(text, {})
                    count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bank", type=Path)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    args = parser.parse_args()
    # Largest first, so that no worker is left with a big file at the end.
    paths = sorted(args.bank.glob("*.yaml"), key=lambda p: p.stat().st_size, reverse=True)
    if args.jobs > 1 and sys.platform == "linux":
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            count = sum(pool.imap_unordered(read, paths))
    else:
        count = sum(map(read, paths))
    print(f"{len(paths)} files, {count} texts parsed")


if __name__ == "__main__":
    main()
