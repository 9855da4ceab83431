"""What the corpus says about its own figures: metric names and measures, and known source errors.

Read from `metrics.csv` and `errata.csv` beside the tables, so a new metric or erratum is a data change.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MetricInfo:
    """A metric's names in both languages, its kind (total, share, monthly, daily) and its measure."""

    id: str
    name_zh: str
    name_en: str
    kind: str
    measure_zh: str
    measure_en: str
    aliases: tuple[str, ...] = ()

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en

    def measure(self, lang: str) -> str:
        return self.measure_zh if lang == "zh" else self.measure_en


@dataclass(frozen=True)
class Erratum:
    """A known error in a source text: where it is (a fragment of a passage) and the correction."""

    source: str
    fragment: str
    note_zh: str
    note_en: str

    def note(self, lang: str) -> str:
        return self.note_zh if lang == "zh" else self.note_en


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def load_metrics(corpus_dir: Path) -> dict[str, MetricInfo]:
    return {
        row["metric"]: MetricInfo(
            row["metric"],
            row["name_zh"],
            row["name_en"],
            row["kind"],
            row["measure_zh"],
            row["measure_en"],
            tuple(a for a in row.get("aliases", "").split("|") if a),
        )
        for row in _rows(corpus_dir / "metrics.csv")
    }


def metric_info(metrics: dict[str, MetricInfo], metric: str) -> MetricInfo:
    """The catalog entry, or a plain one named after the id for metrics ingested without an entry."""
    return metrics.get(metric) or MetricInfo(metric, metric, metric, "total", "", "")


def load_errata(corpus_dir: Path) -> list[Erratum]:
    return [
        Erratum(r["source"], r["fragment"], r["note_zh"], r["note_en"]) for r in _rows(corpus_dir / "errata.csv")
    ]
