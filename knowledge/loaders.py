"""Read the corpus: the article (passages), the entity list and report tables (CSV, XLSX, Markdown).

Tables are validated whole: every problem is collected into one InvalidFileError, and nothing half-loads.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml

from knowledge.errors import InvalidFileError, Problem, UnitError, UserError
from knowledge.facts import QUALIFIERS, Fact, FactsTable, Period, parse_published
from knowledge.units import Quantity, parse_quantity

T = TypeVar("T")

TABLE_SUFFIXES = (".csv", ".xlsx", ".md", ".markdown")
REQUIRED_COLUMNS = ("metric", "entity", "period", "value", "unit")
OPTIONAL_COLUMNS = ("qualifier", "report", "published", "source", "quote")
_CHINESE_HEADERS = {
    "指标": "metric",
    "主体": "entity",
    "期间": "period",
    "数值": "value",
    "口径": "qualifier",
    "单位": "unit",
    "报告": "report",
    "发布": "published",
    "来源": "source",
    "原文": "quote",
}
_HEADERS = {**{name: name for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}, **_CHINESE_HEADERS}
_UNITS = {"tokens": "tokens", "token": "tokens", "词元": "tokens", "percent": "percent", "%": "percent"}
_UNITS |= {"百分比": "percent", "pct": "percent"}
_QUALIFIER_WORDS = {"精确": "exact", "至少": "at_least", "超过": "at_least", "至多": "at_most", "约": "about"}
_KIND_FOR_UNIT = {"tokens": "count", "percent": "percent"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SEPARATOR_CELL = re.compile(r":?-{3,}:?")


# ---- articles and entities -------------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """One paragraph of an article, the unit that search indexes and answers cite."""

    source: str
    position: int
    text: str
    title: str = ""
    author: str = ""


@dataclass(frozen=True)
class Article:
    meta: dict[str, str]
    passages: list[Passage]


@dataclass(frozen=True)
class Entity:
    id: str
    name_zh: str
    name_en: str
    aliases: tuple[str, ...] = ()


def load_article(path: Path | str) -> Article:
    """YAML front matter, then one passage per non-empty line (the article has a paragraph per line)."""
    path = Path(path)
    meta, body = _split_front_matter(path, _read_text(path, "a text file"))
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if not lines:
        raise _invalid(path, "the article has no text after its front matter")
    title, author = meta.get("title", ""), meta.get("author", "")
    passages = [Passage(path.name, i, line, title, author) for i, line in enumerate(lines)]
    return Article(meta=meta, passages=passages)


def has_front_matter(path: Path) -> bool:
    """True when a Markdown file starts with a `---` line, i.e. claims to be an article."""
    with path.open("rb") as handle:
        return handle.read(8).removeprefix(codecs.BOM_UTF8).startswith(b"---")


def _split_front_matter(path: Path, text: str) -> tuple[dict[str, str], str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise _invalid(path, "no YAML front matter: an article must start with a '---' line")
    end = next((i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---"), None)
    if end is None:
        raise _invalid(path, "the front matter is never closed by a '---' line")
    return _parse_front_matter(path, "".join(lines[1:end])), "".join(lines[end + 1 :])


def _parse_front_matter(path: Path, text: str) -> dict[str, str]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 2 if mark is not None else None
        raise InvalidFileError([Problem(path.name, row, None, f"broken front matter: {exc}")]) from None
    if not isinstance(data, dict):
        raise _invalid(path, "the front matter must be 'key: value' lines")
    return {str(key): "" if value is None else str(value) for key, value in data.items()}


def load_entities(path: Path | str) -> list[Entity]:
    """`entity,name_zh,name_en,aliases` rows, aliases separated by `|`."""
    path = Path(path)
    reader = csv.DictReader(io.StringIO(_read_text(path, "a text table")))
    missing = [c for c in ("entity", "name_zh", "name_en") if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidFileError([Problem(path.name, None, c, "required column is missing") for c in missing])
    entities: list[Entity] = []
    problems: list[Problem] = []
    for number, row in enumerate(reader, start=2):
        entity = _entity_row(row)
        if not entity.id or entity.id in {e.id for e in entities}:
            problems.append(Problem(path.name, number, "entity", "empty or duplicate entity id"))
        entities.append(entity)
    if problems:
        raise InvalidFileError(problems)
    return entities


def _entity_row(row: dict[str, str | None]) -> Entity:
    aliases = (row.get("aliases") or "").split("|")
    return Entity(
        id=(row.get("entity") or "").strip(),
        name_zh=(row.get("name_zh") or "").strip(),
        name_en=(row.get("name_en") or "").strip(),
        aliases=tuple(a.strip() for a in aliases if a.strip()),
    )


# ---- reading files into a grid of text cells -------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """A table as text: its header cells and its data rows numbered as a spreadsheet shows them."""

    header: list[str]
    rows: list[tuple[int, list[str]]]


def _invalid(path: Path, message: str) -> InvalidFileError:
    return InvalidFileError([Problem(path.name, None, None, message)])


def _read_text(path: Path, what: str) -> str:
    """Decode UTF-8 (BOM or not), UTF-16 with a BOM, or GBK/GB18030 as Excel in China writes it."""
    data = path.read_bytes()
    encodings = ("utf-16",) if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else ()
    for encoding in (*encodings, "utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text):
            break
        return text
    raise _invalid(path, f"not {what}: the file is binary or in an unknown encoding (use UTF-8 or GBK)")


def _grid(path: Path, records: Iterable[tuple[int, list[str]]]) -> _Grid:
    rows = [(number, cells) for number, cells in records if any(c.strip() for c in cells)]
    if not rows:
        raise _invalid(path, "the file is empty")
    return _Grid(header=rows[0][1], rows=rows[1:])


def _read_csv(path: Path) -> _Grid:
    text = _read_text(path, "a text table")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t", key=first_line.count)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise _invalid(path, f"not a text table: {exc}") from None
    return _grid(path, enumerate(records, start=1))


def _read_xlsx(path: Path) -> _Grid:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key errors) on a damaged file
        raise _invalid(path, f"not an Excel workbook: {exc}") from None
    sheet = workbook.worksheets[0]
    records = [(row[0].row, [_cell_text(cell) for cell in row]) for row in sheet.iter_rows()]
    workbook.close()
    return _grid(path, records)


def _cell_text(cell: Any) -> str:
    """The cell as the user sees it: Excel stores 46.4% as 0.464 and turns 2025-05 into a date."""
    value, number_format = cell.value, str(cell.number_format).lower()
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d" if "d" in number_format else "%Y-%m")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "%" in number_format:
            return f"{_number_text(round(value * 100, 10))}%"
        return _number_text(value)
    return str(value).strip()


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _read_markdown(path: Path) -> _Grid:
    lines = [line.strip() for line in _read_text(path, "a text table").splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        raise _invalid(path, "no Markdown table found (lines starting with '|')")
    block = [_markdown_cells(line) for line in _takewhile_pipes(lines[start:])]
    if len(block) < 2 or not all(_SEPARATOR_CELL.fullmatch(c) for c in block[1]):
        raise _invalid(path, "the table's second line must be a separator like |---|---|")
    return _grid(path, [(1, block[0]), *enumerate(block[2:], start=2)])


def _takewhile_pipes(lines: list[str]) -> list[str]:
    end = next((i for i, line in enumerate(lines) if not line.startswith("|")), len(lines))
    return lines[:end]


def _markdown_cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    cells = re.split(r"(?<!\\)\|", inner)
    return [cell.replace("\\|", "|").strip().strip("`").strip() for cell in cells]


_READERS: dict[str, Callable[[Path], _Grid]] = {
    ".csv": _read_csv,
    ".xlsx": _read_xlsx,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
}


# ---- validating rows into facts --------------------------------------------------------------------


@dataclass
class _Row:
    """One data row being validated; problems are collected, not raised."""

    file: str
    number: int
    cells: dict[str, str]
    problems: list[Problem] = field(default_factory=list)

    def get(self, column: str) -> str:
        return self.cells.get(column, "")

    def problem(self, column: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.number, column, message))

    def required(self, column: str) -> str | None:
        text = self.get(column)
        if not text:
            self.problem(column, f"the {column} cell is empty")
        return text or None


def _normalise_header(title: str) -> str:
    return title.replace("\ufeff", "").strip().strip("*`").strip().lower()


def _columns(name: str, header: Sequence[str]) -> tuple[dict[str, int], list[Problem]]:
    columns: dict[str, int] = {}
    problems: list[Problem] = []
    for index, title in enumerate(header):
        column = _HEADERS.get(_normalise_header(title))
        if column in columns:
            problems.append(Problem(name, 1, title, f"the {column} column appears twice"))
        elif column is not None:
            columns[column] = index
    found = ", ".join(h.strip() for h in header)
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            problems.append(Problem(name, None, column, f"required column is missing (found: {found})"))
    return columns, problems


def _entity(row: _Row, entities: Collection[str] | None) -> str | None:
    """The entity id; a name or alias is accepted when `entities` maps names to ids (see `entity_lookup`)."""
    entity = row.required("entity")
    if entity is None or entities is None:
        return entity
    if isinstance(entities, Mapping):
        found = entities.get(entity) or entities.get(entity.strip().casefold())
        if found:
            return str(found)
        known = ", ".join(sorted(set(entities.values())))
    elif entity in entities:
        return entity
    else:
        known = ", ".join(sorted(entities))
    row.problem("entity", f"unknown entity {entity!r} (known: {known})")
    return None


def entity_lookup(entities: Iterable[Entity]) -> dict[str, str]:
    """Every way a table may name an entity (id, Chinese and English names, aliases; any case) -> its id."""
    lookup: dict[str, str] = {}
    for entity in entities:
        for name in (entity.id, entity.name_zh, entity.name_en, *entity.aliases):
            lookup.setdefault(name, entity.id)
            lookup.setdefault(name.strip().casefold(), entity.id)
    return lookup


def _period(row: _Row) -> Period | None:
    text = row.required("period")
    if text is None:
        return None
    try:
        return Period.parse(text)
    except UserError as exc:
        row.problem("period", exc.message)
        return None


def _unit(row: _Row) -> str | None:
    text = row.required("unit")
    unit = _UNITS.get(text.lower()) if text is not None else None
    if text is not None and unit is None:
        row.problem("unit", f"unknown unit {text!r} (use tokens or percent)")
    return unit


def _quantity(row: _Row, unit: str | None) -> Quantity | None:
    text = row.required("value")
    if text is None:
        return None
    try:
        quantity = parse_quantity(text)
    except UnitError as exc:
        row.problem("value", f"cannot read the value: {exc.message}")
        return None
    mismatch = _value_mismatch(text, quantity, unit) if unit is not None else None
    if mismatch:
        row.problem("value", mismatch)
        return None
    return quantity


def _value_mismatch(text: str, quantity: Quantity, unit: str) -> str | None:
    expected = _KIND_FOR_UNIT[unit]
    if quantity.kind != expected:
        hint = f"; write it as {text}%" if expected == "percent" and quantity.kind == "count" else ""
        return f"{text!r} is a {quantity.kind}, but the unit is {unit} (expected a {expected}{hint})"
    if unit == "tokens" and quantity.value <= 0:
        return f"a token count must be positive, got {text!r}"
    if unit == "percent" and not 0 <= quantity.value <= 100:
        return f"a percent must be between 0 and 100, got {text!r}"
    return None


def _qualifier(row: _Row, quantity: Quantity | None) -> str:
    """The qualifier column wins; when it is absent or empty, what the value says (超过 -> at_least)."""
    text = row.get("qualifier")
    if not text:
        return quantity.qualifier if quantity is not None else "exact"
    qualifier = _QUALIFIER_WORDS.get(text, re.sub(r"[\s-]+", "_", text.lower()))
    if qualifier not in QUALIFIERS:
        row.problem("qualifier", f"unknown qualifier {text!r} (use {', '.join(QUALIFIERS)})")
    return qualifier


def _published(row: _Row) -> str:
    text = row.get("published")
    if text and parse_published(text) is None:
        row.problem("published", f"published must be YYYY, YYYY-MM or YYYY-MM-DD, got {text!r}")
    return text


def _fact(row: _Row, entities: Collection[str] | None) -> Fact | None:
    metric, entity, period = row.required("metric"), _entity(row, entities), _period(row)
    unit = _unit(row)
    quantity = _quantity(row, unit)
    qualifier, published = _qualifier(row, quantity), _published(row)
    if row.problems or metric is None or entity is None or period is None:
        return None
    if unit is None or quantity is None:
        return None
    return Fact(
        metric=metric,
        entity=entity,
        period=period,
        value=quantity.value,
        qualifier=qualifier,
        unit=unit,
        report=row.get("report"),
        published=published,
        source=row.get("source"),
        quote=row.get("quote"),
        origin=row.file,
        value_text=row.get("value"),
    )


def _rows(name: str, grid: _Grid, columns: dict[str, int]) -> list[_Row]:
    def cell(cells: list[str], index: int) -> str:
        return cells[index].strip() if index < len(cells) else ""

    return [
        _Row(name, number, {column: cell(cells, index) for column, index in columns.items()})
        for number, cells in grid.rows
    ]


def _row_key(row: _Row) -> tuple[str, str, str]:
    """The row's (metric, entity, period), with the period canonical when it can be read."""
    text = row.get("period")
    try:
        period = str(Period.parse(text))
    except UserError:
        period = text
    return (row.get("metric"), row.get("entity"), period)


def _duplicates(rows: list[_Row]) -> list[Problem]:
    seen: dict[tuple[str, str, str], int] = {}
    problems: list[Problem] = []
    for row in rows:
        key = _row_key(row)
        if key in seen:
            message = f"duplicate of row {seen[key]} (same metric, entity and period)"
            problems.append(Problem(row.file, row.number, "period", message))
        seen.setdefault(key, row.number)
    return problems


def load_table(path: Path | str, entities: Collection[str] | None = None) -> list[Fact]:
    """Every row of a .csv, .xlsx or .md table as a Fact, or one InvalidFileError listing every problem."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        kinds = ", ".join(TABLE_SUFFIXES)
        raise _invalid(path, f"unsupported file type {path.suffix or '(none)'!r} (use {kinds})")
    grid = reader(path)
    columns, problems = _columns(path.name, grid.header)
    if not grid.rows:
        problems.append(Problem(path.name, None, None, "the table has a header but no data rows"))
    if any(p.row is None for p in problems):
        raise InvalidFileError(problems)
    rows = _rows(path.name, grid, columns)
    facts = [_fact(row, entities) for row in rows]
    found = [p for row in rows for p in row.problems] + _duplicates(rows)
    problems += sorted(found, key=lambda p: p.row or 0)
    if problems:
        raise InvalidFileError(problems)
    return [fact for fact in facts if fact is not None]


def load_tables(paths: Iterable[Path | str], entities: Collection[str] | None = None) -> list[Fact]:
    """All files' facts, or one InvalidFileError with the problems of every file."""
    problems: list[Problem] = []
    facts: list[Fact] = []
    for path in paths:
        try:
            facts += load_table(path, entities)
        except InvalidFileError as exc:
            problems += exc.problems
    if problems:
        raise InvalidFileError(problems)
    return facts


# ---- the corpus ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableInfo:
    """What /sources shows about one table file."""

    name: str
    reports: tuple[str, ...]
    published: str
    rows: int


@dataclass(frozen=True)
class Corpus:
    facts: FactsTable
    passages: list[Passage]
    entities: list[Entity]
    tables: list[TableInfo]


def default_corpus_dir() -> Path:
    return Path(__file__).parent / "corpus"


def table_info(name: str, facts: Sequence[Fact]) -> TableInfo:
    reports = tuple(dict.fromkeys(f.report for f in facts if f.report))
    published = max((f.published for f in facts if f.published), default="")
    return TableInfo(name=name, reports=reports, published=published, rows=len(facts))


def load_corpus(corpus_dir: Path | str | None = None, extra_facts: Iterable[Fact] = ()) -> Corpus:
    """Articles, entities.csv and tables/*; `extra_facts` (ingested later) replace shipped ones by key."""
    root = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    problems: list[Problem] = []
    entities_path = root / "entities.csv"
    entities = _collect(problems, load_entities, entities_path) if entities_path.exists() else []
    ids = {e.id for e in entities or []} or None
    articles = [_collect(problems, load_article, path) for path in _article_paths(root)]
    tables = {path.name: _collect(problems, load_table, path, ids) for path in _table_paths(root)}
    if problems:
        raise InvalidFileError(problems)
    shipped = [fact for facts in tables.values() for fact in facts or []]
    return Corpus(
        facts=FactsTable(shipped).merged(extra_facts),
        passages=[p for article in articles if article for p in article.passages],
        entities=entities or [],
        tables=[table_info(name, facts or []) for name, facts in tables.items()],
    )


def _collect(problems: list[Problem], load: Callable[..., T], *args: Any) -> T | None:
    try:
        return load(*args)
    except InvalidFileError as exc:
        problems += exc.problems
        return None


def _article_paths(root: Path) -> list[Path]:
    candidates = sorted(p for p in root.glob("*.md") if p.name.lower() != "readme.md")
    return [p for p in candidates if has_front_matter(p)]


def _table_paths(root: Path) -> list[Path]:
    paths = (root / "tables").glob("*")
    return sorted(p for p in paths if p.suffix.lower() in TABLE_SUFFIXES and not p.name.startswith((".", "~$")))
