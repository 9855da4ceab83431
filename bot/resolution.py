"""Resolving polls when the real figure arrives, from whichever door it came in (an ingest by the CLI or
the bot, or an admin's /resolve). Resolution is claimed in the database, so it happens exactly once
even when several processes see the same figure; the results message is left as an announcement.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot import polls
from bot.storage import Poll, Prediction, ScoreRow, Storage
from knowledge.facts import Fact

RESULTS = "poll_results"


def entries(predictions: Iterable[Prediction]) -> list[polls.Entry]:
    return [polls.Entry(p.user_id, p.user_name, p.value, p.low, p.high, p.predicted_at) for p in predictions]


async def resolve_poll(storage: Storage, poll: Poll, actual: float, source: str) -> polls.Results | None:
    """Score every prediction and claim the resolution; None when another process resolved it first."""
    results = polls.resolve(entries(await storage.predictions(poll.id)), actual)
    rows = [
        ScoreRow(
            poll.id, s.entry.user_id, s.entry.user_name, s.score, s.rank, s.entry.value, s.entry.low, s.entry.high
        )
        for s in results.ranking
    ]
    # The results message is queued in the same transaction: a crash cannot resolve a poll silently.
    announcement = (RESULTS, {"poll_id": poll.id})
    if not await storage.claim_resolution(poll.id, actual, source, rows, announcement=announcement):
        return None
    return results


async def resolve_with_facts(storage: Storage, facts: Iterable[Fact]) -> list[int]:
    """Resolve every open or closed poll on the metric, entity and period of these facts; their ids."""
    resolved: list[int] = []
    for fact in facts:
        source = ", ".join(part for part in (fact.report, fact.published, fact.source) if part)
        for poll in await storage.unresolved_polls(fact.metric, fact.entity, str(fact.period)):
            if await resolve_poll(storage, poll, fact.value, source) is not None:
                resolved.append(poll.id)
    return resolved
