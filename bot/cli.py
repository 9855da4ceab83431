"""The `marketbot` command: index, ask, chat, ingest, run.

Heavy libraries (chromadb, langchain, pandas, telegram) are imported inside the commands that need
them, so `marketbot ask` starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from knowledge.errors import UserError

if TYPE_CHECKING:
    from bot.config import Settings
    from retrieval.pipeline import Pipeline


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marketbot", description="Answers about China's LLM public-cloud market."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="build or update the search index from the corpus")
    index.add_argument("--rebuild", action="store_true", help="drop the index and build it again")
    ask = commands.add_parser("ask", help="answer one question (or a batch)")
    ask.add_argument("question", nargs="*", help="the question")
    ask.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    ask.add_argument("--batch", metavar="FILE", help="one question per line ('-' for stdin); JSON lines out")
    ask.add_argument("--no-index", action="store_true", help="answer without the vector index (BM25 only)")
    commands.add_parser("chat", help="interactive console chat on the same answer pipeline")
    ingest = commands.add_parser("ingest", help="validate and ingest new tables or articles")
    ingest.add_argument("files", nargs="+", type=Path)
    ingest.add_argument("--json", action="store_true", help="print the result as JSON")
    run = commands.add_parser("run", help="run the Telegram bot")
    run.add_argument("--webhook", action="store_true", help="webhook mode (WEBHOOK_* settings)")
    run.add_argument("--or-chat", action="store_true", help="without a bot token, open the console chat instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.config import Settings
    from bot.logs import setup_logging

    settings = Settings()
    setup_logging(settings.log_level if args.command == "run" else "WARNING")
    try:
        handler = {"index": cmd_index, "ask": cmd_ask, "chat": cmd_chat, "ingest": cmd_ingest, "run": cmd_run}
        return handler[args.command](settings, args)
    except UserError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


# --- services -------------------------------------------------------------------------------------------


def open_index(settings: Settings) -> Any:
    from retrieval.embeddings import get_embeddings
    from retrieval.index import Index

    return Index(settings.data_dir, settings.chroma_url or None, get_embeddings(settings.embeddings))


def load_pipeline(settings: Settings, with_index: bool = True) -> Pipeline:
    """The answer pipeline over the shipped corpus plus everything ingested into the data dir."""
    from knowledge.ingest import FactStore
    from retrieval.pipeline import Pipeline

    corpus = FactStore(settings.data_dir).corpus()
    use_index = with_index and _index_exists(settings)

    def index() -> Any:
        return open_index(settings) if use_index else None

    return Pipeline.from_corpus(corpus, index=index, llm=build_llm(settings))


def build_llm(settings: Settings) -> Any:
    """The optional LLM from LLM_* settings, or None."""
    from retrieval.llm import from_settings

    key = settings.llm_api_key.get_secret_value()
    return from_settings(settings.llm_base_url, key, settings.llm_model, settings.llm_timeout)


def _index_exists(settings: Settings) -> bool:
    return bool(settings.chroma_url) or (settings.data_dir / "chroma").exists()


# --- commands -------------------------------------------------------------------------------------------


def cmd_index(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.ingest import FactStore

    corpus = FactStore(settings.data_dir).corpus()
    index = open_index(settings)
    names = {e.id: (e.name_zh, e.name_en) for e in corpus.entities}
    with _progress(sys.stderr) as progress:
        report = index.sync(
            corpus.passages, list(corpus.facts), rebuild=args.rebuild, entity_names=names, progress=progress
        )
    print(report.summary() if report.changed else f"nothing changed ({report.summary()})")
    return 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    question = " ".join(args.question)
    if not question and not args.batch:
        raise UserError('Give a question, e.g. marketbot ask "2024 年公有云 Tokens 调用量是多少?"')
    pipeline = load_pipeline(settings, with_index=not args.no_index)
    if args.batch:
        source = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
        with source:
            answer_lines(pipeline, source, sys.stdout)
        return 0
    answer = pipeline.answer(question)
    print(json.dumps(answer.to_dict(), ensure_ascii=False) if args.json else answer.answer)
    return 0


def answer_lines(pipeline: Pipeline, lines: Iterable[str], out: TextIO) -> None:
    """One JSON object per input line, flushed per line so a reader can stream."""
    for line in lines:
        question = line.rstrip("\n")
        if not question.strip():
            continue
        out.write(json.dumps(pipeline.answer(question).to_dict(), ensure_ascii=False) + "\n")
        out.flush()


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console import run_console

    return run_console(load_pipeline(settings), sys.stdin, sys.stdout)


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """The same path as an upload through Telegram: store, queue alerts, resolve polls."""
    from knowledge.errors import InvalidFileError

    try:
        outcome = asyncio.run(ingest_with_storage(settings, args.files))
    except InvalidFileError as exc:
        if args.json:
            print(json.dumps({"ok": False, "problems": [str(p) for p in exc.problems]}, ensure_ascii=False))
        else:
            print(exc.message, file=sys.stderr)
        return 1
    result = outcome.result
    if args.json:
        extra = {"alerts": list(outcome.alert_ids), "resolved_polls": list(outcome.resolved_polls)}
        print(json.dumps({"ok": True, **result.to_dict(), **extra}, ensure_ascii=False))
        return 0
    print(outcome.summary())
    for fact in result.new:
        print(f"  new: {fact.metric} {fact.entity} {fact.period} = {fact.value_text or fact.value}")
    for rev in result.revised:
        before, after = rev.before.value_text or rev.before.value, rev.after.value_text or rev.after.value
        print(f"  revised: {rev.after.metric} {rev.after.entity} {rev.after.period}: {before} -> {after}")
    return 0


async def ingest_with_storage(settings: Settings, files: Sequence[Path]) -> Any:
    from bot.ingestion import ingest_files
    from bot.storage import Storage

    storage = Storage(settings.database)
    await storage.open()
    try:
        return await ingest_files(files, settings.data_dir, storage, open_index(settings))
    finally:
        await storage.close()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.has_token:
        if args.or_chat:
            print("No TELEGRAM_BOT_TOKEN configured: starting the console chat instead.", file=sys.stderr)
            return cmd_chat(settings, args)
        raise UserError("TELEGRAM_BOT_TOKEN is not set; see README (BotFather) or use `marketbot chat`.")
    from telegram import Update

    from bot.app import build_application
    from bot.services import Services

    app = build_application(settings, Services.load(settings))
    # run_polling/run_webhook stop cleanly on SIGINT, SIGTERM and SIGABRT.
    if args.webhook:
        if not settings.webhook_url:
            raise UserError("Webhook mode needs WEBHOOK_URL (the public HTTPS URL Telegram should call).")
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=WEBHOOK_PATH,
            webhook_url=settings.webhook_url.rstrip("/") + "/" + WEBHOOK_PATH,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


WEBHOOK_PATH = "telegram"


class _progress:
    """A rich progress bar on a terminal, nothing otherwise (the callback is still safe to call)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if not self.stream.isatty():
            return None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.start()
        self.task = self.bar.add_task("indexing", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
