"""The console chat: the same answer pipeline and text as the bot, in a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from bot.render import plain

if TYPE_CHECKING:
    from retrieval.pipeline import Pipeline

GREETING = (
    "marketbot console: ask about China's LLM public-cloud (MaaS) market in Chinese or English.\n"
    "例如:2025 上半年的调用量是 2024 全年的几倍? / How did Google's monthly tokens grow from May to June 2025?\n"
    "Empty line or Ctrl-D to quit."
)


def run_console(pipeline: Pipeline, stdin: TextIO, stdout: TextIO) -> int:
    print(GREETING, file=stdout)
    while True:
        print("\n> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line or not line.strip():
            print("bye", file=stdout)
            return 0
        print(plain(pipeline.answer(line.strip())), file=stdout, flush=True)
