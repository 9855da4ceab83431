"""Synthetic data dirs for the scale benchmarks: N facts and N passages in total (the shipped corpus included),
stored the way ingestion stores them and indexed the way `marketbot index` indexes them, cached on disk.

What a data dir holds, for N items:
- `knowledge/facts.jsonl` (written by `FactStore.save_facts`): monthly and daily token counts (monthly
  periods, 2022-01 to 2026-03) and IDC-style market shares (half years, 2020H1 to 2023H2) of synthetic cloud
  vendors, N minus the shipped facts in all;
- `knowledge/articles/news-*.md`: market-news articles with YAML front matter, one paragraph per line
  (Chinese and English, from templates with varied vocabulary; some longer than one index chunk), N minus
  the shipped passages in all;
- `chroma/`: the index of every passage and fact, built by `Index.sync` with the default hashed embedder;
- `corpus/`: a copy of the shipped corpus whose `entities.csv` also names every synthetic vendor (Chinese
  name, English name, two aliases), for `FactStore(data_dir).corpus(corpus_dir)` and
  `Pipeline.from_corpus(..., corpus_dir=...)`.

The shipped corpus stays in, so the questions in benchmarks/questions.txt keep their meaning: synthetic
vendors have names that no question contains or nearly contains (rare characters, invented Latin words),
and their shares lie in periods before the shipped ones. The index is synced with the entity names of the
shipped `entities.csv`, as `marketbot index` and `marketbot run` compute them, so a real `marketbot run`
on the data dir finds it up to date (fact vectors are not on the answer path; only their text differs).

Data dirs are cached under the temp dir, keyed by the generator version, the shipped corpus and the
Chroma version; `python benchmarks/scale_data.py N` builds one and prints its path.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.facts import Fact, Period  # noqa: E402
from knowledge.ingest import FactStore  # noqa: E402
from knowledge.loaders import Entity, default_corpus_dir, load_corpus  # noqa: E402

GENERATOR_VERSION = 2
CACHE_ROOT = Path(tempfile.gettempdir()) / "marketbot-bench-scale"
PASSAGES_PER_ARTICLE = 50

# Characters no benchmark question, shipped name or template uses (checked in `_rare_characters`), so a
# synthetic vendor's Chinese name can never match a question exactly or with one character wrong.
RARE = "曜岚瀚翎昊玑琮璟瑄珩琨玥琰璇霁澈沅湉淇漪泓澍汐渺曦旻昕晔晞暄煜炜烨熠焜炅焱燊钰铠铎锦镕钊鑫杉柘桉楠樾栩榆槿岑崧峤岱嵘嵩屹巍骞骁骏璞瑜琦"
ZH_SUFFIXES = ("云", "智算", "数科", "科技", "云计算")
EN_SUFFIXES = ("Cloud", "AI", "Compute", "Intelligence", "Tech")
ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "pl", "tr", "vr")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ei", "ou")
CODAS = ("n", "r", "x", "l", "m", "s", "v", "")

CITIES = ("上海", "深圳", "杭州", "成都", "武汉", "南京", "苏州", "合肥")
SECTORS = (("金融", "finance"), ("政务", "government"), ("汽车", "automotive"), ("教育", "education"),
           ("医疗", "healthcare"), ("零售", "retail"), ("制造", "manufacturing"), ("游戏", "gaming"),
           ("物流", "logistics"), ("能源", "energy"))  # fmt: skip
ANALYSTS = (("IDC", "IDC"), ("沙利文", "Frost & Sullivan"), ("艾瑞咨询", "iResearch"), ("赛迪顾问", "CCID"))
PRODUCTS = ("智能体开发平台", "模型精调服务", "知识库问答套件", "代码助手", "多模态推理网关", "向量数据库服务")
MODEL_KINDS = (("混合专家", "mixture-of-experts"), ("多模态", "multimodal"), ("推理", "reasoning"),
               ("代码", "coding"), ("语音", "speech"), ("长文本", "long-context"))  # fmt: skip
DRIVERS = ("企业客户集中上线", "春节后需求回暖", "智能体应用爆发", "降价带来的新增开发者", "长文本推理需求")
STRATEGIES = ("降价和免费额度", "行业解决方案", "开源模型托管", "按量计费的推理套餐", "专属算力集群")
TRENDS = ("模型价格战仍在持续", "推理需求已超过训练需求", "企业正从试点走向规模化部署", "开源模型缩小了差距")
METRIC_WORDS = {
    "monthly_tokens": "月 Tokens 处理量",
    "daily_tokens": "日均 Tokens 调用量",
    "maas_share": "市场份额",
}
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")  # fmt: skip

ZH_TEMPLATES = (
    "{ym_zh},{zh}宣布其大模型平台日均 Tokens 调用量突破 {num} 万亿,较上月增长 {pct}%。",
    "{zh}在{city}发布面向{sector}行业的{product},首批接入 {k} 家企业客户。",
    "据{analyst}统计,{half_zh}{zh}在公有云大模型服务市场的份额约为 {share}%,排名第 {rank}。",
    "{zh}将旗舰模型的输入价格下调 {pct}%,每百万 Tokens 仅需 {price} 元,带动调用量环比上升。",
    "受{driver}影响,{zh}的推理集群在{ym_zh}扩容至 {gpu} 张加速卡。",
    "业内人士认为,{trend},{zh}等云厂商正在通过{strategy}争夺开发者。",
    "{zh}与{partner}达成合作,在{sector}场景落地智能客服、代码助手和知识库问答。",
    "{ym_zh},{zh}开源了 {params} 亿参数的{kind}模型,一周内下载量超过 {k} 万次。",
    "{zh}表示,{half_zh}平台月均调用量约 {num} 万亿 Tokens,其中{sector}客户贡献了近三成。",
)
EN_TEMPLATES = (
    "{en} said its platform processed {num} trillion tokens in {month_en} {year}, up {pct}% from the month before.",
    "Analysts at {analyst_en} estimate that {en} held about {share}% of China's public-cloud LLM market in {half_en} {year}.",
    "{en} cut the price of its flagship model by {pct}%, to {price} yuan per million tokens.",
    "{en} expanded its inference cluster to {gpu} accelerators as demand from {sector_en} customers grew.",
    "{en} open-sourced a {params}-billion-parameter {kind_en} model, downloaded {k} thousand times in its first week.",
    "Enterprise adoption in {sector_en} pushed {en}'s monthly token volume to {num} trillion in {half_en} {year}.",
    "{en} and {partner_en} will build agents for {sector_en} clients on top of {en}'s model platform.",
)


@dataclass(frozen=True)
class ScaleData:
    """A built data dir and the corpus dir that names its vendors."""

    n: int
    data_dir: Path
    corpus_dir: Path
    manifest: dict[str, object]


# ---- names -------------------------------------------------------------------------------------------


def _question_text() -> str:
    return (ROOT / "benchmarks" / "questions.txt").read_text(encoding="utf-8").lower()


def _shipped_text() -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(default_corpus_dir().rglob("*")) if p.is_file())


def _rare_characters() -> str:
    used = _question_text() + _shipped_text() + "".join(ZH_TEMPLATES)
    used += "".join(CITIES + PRODUCTS + DRIVERS + STRATEGIES + TRENDS)
    return "".join(dict.fromkeys(c for c in RARE if c not in used))


def _edits_at_most(a: str, b: str, limit: int) -> bool:
    """Levenshtein distance <= limit (a banded check is enough for short names)."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
        previous = current
    return previous[-1] <= limit


@functools.cache
def vendors(count: int) -> list[Entity]:
    """`count` vendors with unique bilingual names; the first k are the same for every count."""
    rng = random.Random(f"vendors-{GENERATOR_VERSION}")
    rare = _rare_characters()
    words = {w for w in _words(_question_text()) if len(w) >= 3}
    cores = [a + b for a in rare for b in rare if a != b]
    rng.shuffle(cores)
    result: list[Entity] = []
    seen_en: set[str] = set()
    while len(result) < count:
        i = len(result)
        latin = _latin_word(rng)
        if latin in seen_en or any(_edits_at_most(latin, w, 3) for w in words):
            continue
        seen_en.add(latin)
        core = cores[i % len(cores)] + (rare[i // len(cores) - 1] if i >= len(cores) else "")
        zh = core + ZH_SUFFIXES[i % len(ZH_SUFFIXES)]
        en = f"{latin.capitalize()} {EN_SUFFIXES[i % len(EN_SUFFIXES)]}"
        result.append(Entity(f"vendor_{i:05d}", zh, en, (core, latin.capitalize())))
    return result


def _latin_word(rng: random.Random) -> str:
    syllables = [rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(2)]
    return "".join(syllables) + rng.choice(CODAS)


def _words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isascii() and c.isalpha() else " " for c in text).split()]


# ---- facts -------------------------------------------------------------------------------------------


def _tokens_text(value: float, rng: random.Random) -> str:
    if rng.random() < 0.3:
        return f"{value / 1e12:.4g} trillion"
    return f"{value / 1e12:.4g}万亿" if value >= 1e12 else f"{value / 1e8:.4g}亿"


def vendor_facts(vendor: Entity, index: int) -> list[Fact]:
    """About 35 facts: monthly and daily token series over one to three years, sometimes shares."""
    rng = random.Random(f"facts-{GENERATOR_VERSION}-{index}")
    months = [Period.of_month(y, m) for y in range(2022, 2027) for m in range(1, 13)][:51]  # to 2026-03
    facts: list[Fact] = []
    for metric, chance in (("monthly_tokens", 0.8), ("daily_tokens", 0.6)):
        if rng.random() > chance:
            continue
        length = rng.randint(12, 36)
        start = rng.randint(0, len(months) - length)
        level = rng.uniform(0.02, 40) * 1e12 / (30 if metric == "daily_tokens" else 1)
        for period in months[start : start + length]:
            level *= rng.uniform(0.97, 1.25)
            value = float(f"{level:.4g}")
            facts.append(_fact(vendor, metric, period, value, _tokens_text(value, rng), "tokens", rng))
    if rng.random() < 0.2:
        for period in [Period.of_half(y, h) for y in range(2020, 2024) for h in (1, 2)]:
            share = round(rng.uniform(0.05, 2.0), 2)
            facts.append(_fact(vendor, "maas_share", period, share, f"{share}%", "percent", rng))
    return facts


def _fact(
    vendor: Entity, metric: str, period: Period, value: float, text: str, unit: str, rng: random.Random
) -> Fact:
    announced = period.end + timedelta(days=1)  # published the month after the period ends
    qualifier = "at_least" if rng.random() < 0.2 else "exact"
    word = "超过" if qualifier == "at_least" else "为"
    return Fact(
        metric=metric,
        entity=vendor.id,
        period=period,
        value=value,
        qualifier=qualifier,
        unit=unit,
        report=f"{vendor.name_en} announcement"
        if unit == "tokens"
        else f"IDC 中国大模型公有云服务市场分析 {period}",
        published=f"{announced.year}-{announced.month:02d}",
        source=f"news.example/{vendor.id}/{period}",
        quote=f"{period.label('zh')},{vendor.name_zh}的{METRIC_WORDS[metric]}{word} {text}",
        origin="synthetic.csv",
        value_text=text,
    )


def synthetic_facts(count: int) -> tuple[list[Entity], list[Fact]]:
    """Exactly `count` facts, vendor by vendor, and the vendors they name (a prefix of `vendors`)."""
    size = count // 20 + 8
    while True:
        named: list[Entity] = []
        facts: list[Fact] = []
        for i, vendor in enumerate(vendors(size)):
            if len(facts) >= count:
                break
            named.append(vendor)
            facts += vendor_facts(vendor, i)
        if len(facts) >= count:
            return named, facts[:count]
        size *= 2


# ---- passages ----------------------------------------------------------------------------------------


def _sentence(rng: random.Random, pool: list[Entity]) -> str:
    vendor, partner = rng.choice(pool), rng.choice(pool)
    year, month, half = rng.randint(2023, 2026), rng.randint(1, 12), rng.randint(1, 2)
    sector, analyst, kind = rng.choice(SECTORS), rng.choice(ANALYSTS), rng.choice(MODEL_KINDS)
    values = {
        "zh": vendor.name_zh, "en": vendor.name_en, "partner": partner.name_zh, "partner_en": partner.name_en,
        "ym_zh": f"{year} 年 {month} 月", "half_zh": f"{year} 年{'上' if half == 1 else '下'}半年",
        "month_en": MONTHS_EN[month - 1], "half_en": f"H{half}", "year": year,
        "num": round(rng.uniform(0.1, 90), 1), "pct": rng.randint(3, 85), "share": round(rng.uniform(0.1, 9), 1),
        "rank": rng.randint(3, 12), "price": round(rng.uniform(0.2, 8), 1), "gpu": rng.choice((512, 2048, 8192, 20000)),
        "k": rng.randint(3, 400), "params": rng.choice((7, 14, 32, 70, 236, 671)), "city": rng.choice(CITIES),
        "sector": sector[0], "sector_en": sector[1], "analyst": analyst[0], "analyst_en": analyst[1],
        "product": rng.choice(PRODUCTS), "kind": kind[0], "kind_en": kind[1], "driver": rng.choice(DRIVERS),
        "strategy": rng.choice(STRATEGIES), "trend": rng.choice(TRENDS),
    }  # fmt: skip
    english = rng.random() < 0.3
    return rng.choice(EN_TEMPLATES if english else ZH_TEMPLATES).format(**values)


def paragraph(rng: random.Random, pool: list[Entity]) -> str:
    """One to four sentences; one paragraph in twenty runs long (over one 400-character index chunk)."""
    count = rng.randint(7, 10) if rng.random() < 0.05 else rng.randint(1, 4)
    return " ".join(_sentence(rng, pool) for _ in range(count))


def write_articles(folder: Path, count: int, pool: list[Entity]) -> None:
    """`count` paragraphs in articles of up to PASSAGES_PER_ARTICLE paragraphs each."""
    rng = random.Random(f"articles-{GENERATOR_VERSION}")
    folder.mkdir(parents=True, exist_ok=True)
    for number, start in enumerate(range(0, count, PASSAGES_PER_ARTICLE)):
        lines = [paragraph(rng, pool) for _ in range(min(PASSAGES_PER_ARTICLE, count - start))]
        vendor = rng.choice(pool)
        front = {
            "title": f"{vendor.name_zh}与大模型云市场周报 第 {number + 1} 期",
            "author": rng.choice(("云观察", "Token Weekly", "算力笔记")),
            "language": "zh",
            "source": f"news.example/weekly/{number + 1}",
            "written": f"{rng.randint(2023, 2026)}-{rng.randint(1, 12):02d}",
        }
        head = "".join(f"{key}: {json.dumps(value, ensure_ascii=False)}\n" for key, value in front.items())
        body = "\n\n".join(lines)
        (folder / f"news-{number:05d}.md").write_text(f"---\n{head}---\n\n{body}\n", encoding="utf-8")


# ---- the data dir ------------------------------------------------------------------------------------


def cache_key(n: int) -> str:
    """Changes when the generator, the shipped corpus or Chroma changes."""
    import chromadb

    digest = hashlib.sha1(f"{GENERATOR_VERSION}|{chromadb.__version__}".encode())
    for path in sorted(default_corpus_dir().rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return f"n{n}-v{GENERATOR_VERSION}-{digest.hexdigest()[:10]}"


def _write_corpus_dir(target: Path, extra: list[Entity]) -> None:
    shutil.copytree(default_corpus_dir(), target)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for e in extra:
        writer.writerow([e.id, e.name_zh, e.name_en, "|".join(e.aliases)])
    with (target / "entities.csv").open("a", encoding="utf-8") as handle:
        handle.write(out.getvalue())


def build(n: int, target: Path) -> dict[str, object]:
    """Write and index a data dir of n facts and n passages (shipped ones included) at `target`."""
    from retrieval.embeddings import get_embeddings
    from retrieval.index import Index

    shipped = load_corpus()
    started = time.perf_counter()
    named, facts = synthetic_facts(max(0, n - len(shipped.facts)))
    store = FactStore(target)
    store.save_facts(facts)
    write_articles(store.root / "articles", max(0, n - len(shipped.passages)), named or vendors(4))
    _write_corpus_dir(target / "corpus", named)
    corpus = store.corpus()  # what `marketbot index` and `marketbot run` read: the shipped entity names
    names = {e.id: (e.name_zh, e.name_en) for e in corpus.entities}
    generated = time.perf_counter() - started
    index = Index(target, None, get_embeddings("hashed"))
    report = index.sync(corpus.passages, list(corpus.facts), entity_names=names)
    return {
        "n": n,
        "facts": len(corpus.facts),
        "passages": len(corpus.passages),
        "vendors": len(named),
        "stored_documents": index.count(),
        "generate_s": round(generated, 1),
        "index_s": round(time.perf_counter() - started - generated, 1),
        "index": report.summary(),
    }


def scale_data(n: int, cache_root: Path = CACHE_ROOT) -> ScaleData:
    """The cached data dir for n, built first when missing (older versions of it are removed)."""
    key = cache_key(n)
    final = cache_root / key
    manifest_path = final / "manifest.json"
    if not manifest_path.exists():
        cache_root.mkdir(parents=True, exist_ok=True)
        for old in cache_root.glob(f"n{n}-*"):
            shutil.rmtree(old, ignore_errors=True)
        building = cache_root / f"{key}.building"
        shutil.rmtree(building, ignore_errors=True)
        manifest = build(n, building)
        _forget_clients()
        (building / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        building.rename(final)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return ScaleData(n, final, final / "corpus", manifest)


def _forget_clients() -> None:
    """Drop Chroma's per-path client cache (a renamed or reopened dir must get a fresh client)."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["100"]:
        data = scale_data(int(arg))
        print(data.data_dir, json.dumps(data.manifest))
