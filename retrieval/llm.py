"""The optional LLM: rephrases a deterministic answer and restates questions the rules did not understand.

Its output is used only when every number in it is grounded in the facts, computations or input text.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from knowledge.units import Kind, find_quantities

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.pipeline import Answer

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 300
RELATIVE_TOLERANCE = 0.005
_UNIT_KINDS: dict[str, Kind] = {"tokens": "count", "percent": "percent", "ratio": "ratio", "points": "points"}
_LANGUAGES = {"zh": "Simplified Chinese", "en": "English"}
# Calendar numbers the number reader skips in most contexts but an LLM may write in others.
_CALENDAR_RE = re.compile(
    r"(?<![\d.])(\d{1,4})(?=\s*(?:年|月|日|号|天|个月|季度|(?i:years?|months?|days?|quarters?)(?![A-Za-z])))"
    r"|(?<![\d.])((?:19|20)\d\d)(?![\d.])"
    r"|(?<![\d.])(?:19|20)\d\d-(\d{1,2})(?![\d.])"
)

_REPHRASE_PROMPT = (
    "You edit answers about China's LLM public-cloud token market. Rewrite the answer the user sends so it "
    "reads fluently in {language}. Keep every figure, every source and every calculation step. Do not add, "
    "drop, round differently or invent any number; you may write a number in the other unit system "
    "(536.7 万亿 = 536.7 trillion). Reply with the rewritten answer only."
)
_REFORMULATE_PROMPT = (
    "Restate the user's question about China's LLM public-cloud token market as ONE short, plain question "
    "in the same language as the question, naming the entity, the metric and the period explicitly. "
    "Use only these known names where they fit:\n{hints}\n"
    "Do not add numbers that are not in the question. Reply with the question only."
)


@dataclass(frozen=True)
class _Allowed:
    """A value some output may contain; `kind` None accepts any kind of quantity."""

    value: float
    kind: Kind | None


class LLM:
    """A chat model behind an OpenAI-compatible endpoint; every call returns None rather than raising."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        timeout: float = 8.0,
        chat_model: BaseChatModel | None = None,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout = timeout
        self._api_key = api_key
        self._chat_model = chat_model

    def __repr__(self) -> str:
        return f"LLM(base_url={self.base_url!r}, model={self.model!r}, timeout={self.timeout})"

    def rephrase(self, answer: Answer) -> str | None:
        """The answer in better prose, or None unless every number in it is grounded."""
        system = _REPHRASE_PROMPT.format(language=_LANGUAGES.get(answer.language, answer.language))
        reply = self._ask("rephrase", system, answer.answer)
        if not reply:
            return None
        if not numbers_grounded(reply, answer):
            logger.info("LLM rephrase rejected: it contains a number the answer does not")
            return None
        if not _keeps_figures(reply, answer):
            logger.info("LLM rephrase rejected: it dropped a figure of the answer")
            return None
        return reply

    def reformulate(self, question: str, hints: str) -> str | None:
        """The question restated plainly, or None when the reply is empty, long or adds a number."""
        reply = self._ask("reformulate", _REFORMULATE_PROMPT.format(hints=hints), question)
        if not reply or len(reply) > MAX_QUESTION_CHARS:
            logger.info("LLM reformulation rejected: empty or longer than %d characters", MAX_QUESTION_CHARS)
            return None
        allowed = [*_text_values(question), *_text_values(hints)]
        calendar = _calendar_numbers(question) | _calendar_numbers(hints)
        if not _grounded(reply, allowed, calendar):
            logger.info("LLM reformulation rejected: it contains a number the question does not")
            return None
        return reply

    def _ask(self, task: str, system: str, user: str) -> str | None:
        """The model's reply as stripped text; None (logged without the key) on any failure."""
        try:
            message = self._model().invoke([("system", system), ("human", user)])
            return message.text.strip()
        except Exception as error:  # any failure falls back to the deterministic text
            logger.warning("LLM %s failed: %s: %s", task, type(error).__name__, self._redact(str(error)))
            return None

    def _model(self) -> BaseChatModel:
        # Built on first use: importing langchain_openai costs over a second, and the CLI may never need it.
        if self._chat_model is None:
            from langchain_openai import ChatOpenAI

            self._chat_model = ChatOpenAI(
                base_url=self.base_url,
                api_key=self._api_key,  # type: ignore[arg-type]  # a str is accepted and wrapped
                model=self.model,
                timeout=self.timeout,
                max_retries=0,
            )
        return self._chat_model

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def from_settings(base_url: str, api_key: str, model: str, timeout: float) -> LLM | None:
    """An LLM when an endpoint and a model are configured, else None (the bot stays deterministic)."""
    if not base_url.strip() or not model.strip():
        return None
    return LLM(base_url.strip(), api_key, model.strip(), timeout)


def numbers_grounded(text: str, answer: Answer) -> bool:
    """Whether every quantity in `text` is a fact, a computed result, or a number of the answer or question."""
    allowed = [
        *(_Allowed(f.value, _UNIT_KINDS.get(f.unit)) for f in answer.facts),
        *(_Allowed(c.result, _UNIT_KINDS.get(c.unit)) for c in answer.computations),
        *_text_values(answer.answer),
        *_text_values(answer.question),
    ]
    calendar = _calendar_numbers(answer.answer) | _calendar_numbers(answer.question)
    return _grounded(text, allowed, calendar)


def _grounded(text: str, allowed: list[_Allowed], calendar: set[int]) -> bool:
    for found in find_quantities(text):
        quantity = found.quantity
        if quantity.kind == "count" and quantity.value in calendar:
            continue
        if not any(_matches(quantity.value, quantity.kind, a) for a in allowed):
            return False
    return True


def _matches(value: float, kind: Kind, allowed: _Allowed) -> bool:
    # A bare number may stand for any kind; otherwise 2.8% must not pass for 2.8 个百分点.
    same_kind = kind == "count" or allowed.kind is None or kind == allowed.kind
    return same_kind and _close(abs(value), abs(allowed.value))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-9)


def _text_values(text: str) -> Iterable[_Allowed]:
    return (_Allowed(f.quantity.value, f.quantity.kind) for f in find_quantities(text))


def _calendar_numbers(text: str) -> set[int]:
    """Years, months and day counts written in `text` (2025 年, 5 月, 2025-06, 30 天)."""
    return {int(number) for match in _CALENDAR_RE.finditer(text) for number in match.groups() if number}


def _keeps_figures(text: str, answer: Answer) -> bool:
    """Whether every cited figure and computed result is still in `text`, in either unit system."""
    present = [f.quantity.value for f in find_quantities(text)]
    wanted = [f.value for f in answer.facts] + [c.result for c in answer.computations]
    return all(any(_close(abs(w), abs(p)) for p in present) for w in wanted)
