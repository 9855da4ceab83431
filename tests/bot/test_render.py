"""`bot.render`: escaping and splitting answers for Telegram's HTML parse mode, and console text."""

import html
import re

import pytest
from botapi import parse_html, utf16_len

from bot.render import html_chunks, plain
from retrieval.pipeline import Answer

LIMIT = 4096
# After escaping, every "&" must begin one of the entities html.escape produces.
BROKEN_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|#x27|#39);)")
HEAVY = "<b>a & b</b> <script>&amp;</script> 1<2 && 3>2 "
CHINESE = "2025 年上半年中国大模型公有云市场 Tokens 调用量为 536.7 万亿,是 2024 全年(114.2 万亿)的 4.70 倍。"


def squeeze(text):
    """Text without whitespace: splitting may drop the newlines or spaces it cuts at, nothing else."""
    return re.sub(r"\s+", "", text)


def check_chunks(text, chunks, limit):
    assert chunks, "no chunks for non-empty text"
    for chunk in chunks:
        assert 0 < len(chunk) <= limit
        assert chunk.strip(), "an empty chunk would be a 400 from Telegram"
        assert not BROKEN_ENTITY.search(chunk), f"a split cut an entity: {chunk[:40]!r}...{chunk[-40:]!r}"
        plain_text, entities = parse_html(chunk)  # Telegram's parser accepts it
        assert entities == []  # everything was escaped: no markup survives from the text
        assert plain_text == html.unescape(chunk)
    assert squeeze("".join(html.unescape(c) for c in chunks)) == squeeze(text)


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "A < B & C > D",
        "\"quoted\" and 'single'",
        "<b>not bold</b>",
        "&amp; already looks escaped",
        CHINESE,
        "line one\nline two\n\nparagraph two",
    ],
)
def test_short_text_is_one_escaped_chunk(text):
    [chunk] = html_chunks(text)
    assert html.unescape(chunk) == text
    assert "<" not in chunk and ">" not in chunk
    check_chunks(text, [chunk], LIMIT)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("html-heavy, no newlines", (HEAVY * 400)[:10_000]),
        ("html-heavy, with lines", "\n".join([HEAVY * 3] * 80)[:10_000]),
        ("ampersands only", "&" * 10_000),
        ("angle brackets only", "<>" * 5_000),
        ("chinese, no newlines", (CHINESE * 200)[:10_000]),
        ("chinese paragraphs", "\n\n".join([CHINESE * 3] * 40)[:10_000]),
        ("one long word", "x" * 10_000),
        ("mixed", "\n".join(f"{i}: {CHINESE} {HEAVY}" for i in range(120))),
    ],
)
@pytest.mark.parametrize("limit", [LIMIT, 1000, 97])
def test_long_text_splits_into_valid_chunks_within_the_limit(name, text, limit):
    chunks = html_chunks(text, limit)
    check_chunks(text, chunks, limit)
    assert len(chunks) >= len(html.escape(text)) // limit


@pytest.mark.parametrize(
    "text",
    [
        "a" * 4096 + "\n\n\n\n" + "b" * 4096,
        "a" * 4000 + "\n\n\n\n\n\n" + "b" * 200,
        "\n\n\n" + "c" * 5000 + "\n\n\n",
        "d" * 4096 + "\n   \n\n \n" + "e" * 10,
        "d" * 4096 + "\n   \n\n" + "e" * 4096,
        "\n\n".join(["f" * 2000, "", "", "g" * 2000, " ", "h" * 2000]),
    ],
    ids=[
        "blank-paragraph-at-the-cut",
        "many-blank-lines",
        "leading-and-trailing",
        "space-lines",
        "space-line-at-the-cut",
        "empty-paragraphs",
    ],
)
def test_blank_lines_never_make_an_empty_message(text):
    # Telegram answers 400 "message text is empty" to a whitespace-only message.
    check_chunks(text, html_chunks(text), LIMIT)


@pytest.mark.parametrize("text", ["😀" * 5000, ("增长 📈 " * 2000), "𠀀" * 4097])
def test_the_limit_counts_utf16_units_as_telegram_does(text):
    # Characters outside the BMP (emoji, rare CJK) are two UTF-16 units; Telegram's 4096 counts units,
    # so 4096 emoji are a "message is too long".
    chunks = html_chunks(text)
    assert all(utf16_len(html.unescape(c)) <= LIMIT for c in chunks), [utf16_len(c) for c in chunks]
    assert squeeze("".join(html.unescape(c) for c in chunks)) == squeeze(text)


def test_characters_are_never_lost_without_whitespace():
    text = (HEAVY.replace(" ", "") * 300)[:10_000]
    chunks = html_chunks(text)
    assert "".join(html.unescape(c) for c in chunks) == text


def test_escaped_length_counts_toward_the_limit():
    # 1,000 ampersands are 5,000 escaped characters: more than one message.
    chunks = html_chunks("&" * 1000)
    assert len(chunks) == 2
    assert all(len(c) <= LIMIT and c.count("&amp;") * 5 == len(c) for c in chunks)


@pytest.mark.parametrize("separator", ["\n\n", "\n"])
def test_splits_at_a_line_or_paragraph_boundary_when_there_is_one(separator):
    first, second = "a" * 3000, "b" * 3000
    chunks = html_chunks(first + separator + second)
    assert [html.unescape(c).strip() for c in chunks] == [first, second]


def test_a_paragraph_that_fits_is_not_split_across_messages():
    # Two paragraphs of 3,000 characters made of short lines: cutting at the last line that fits would
    # start the second message in the middle of the second paragraph.
    paragraph_a = "\n".join(["a" * 99] * 30)
    paragraph_b = "\n".join(["b" * 99] * 30)
    chunks = html_chunks(paragraph_a + "\n\n" + paragraph_b)
    assert [html.unescape(c).strip() for c in chunks] == [paragraph_a, paragraph_b]


def test_splits_at_a_line_inside_a_paragraph_too_long_for_one_message():
    lines = [f"{i:04d} " + "c" * 95 for i in range(60)]  # 6,000 characters, no blank line
    chunks = html_chunks("\n".join(lines))
    assert len(chunks) == 2
    for chunk in chunks:
        for line in html.unescape(chunk).strip().split("\n"):
            assert line in lines  # no line was cut in the middle


def test_text_exactly_at_the_limit_is_one_chunk():
    assert html_chunks("y" * LIMIT) == ["y" * LIMIT]
    assert len(html_chunks("y" * (LIMIT + 1))) == 2


def test_plain_is_the_answer_text_without_markup_or_escaping():
    answer = Answer(question="q", answer="A < B & C\n\n536.7 万亿 ≈ 4.70×", status="answered", language="zh")
    text = plain(answer)
    assert "A < B & C" in text and "&amp;" not in text and "&lt;" not in text
    assert "536.7 万亿 ≈ 4.70×" in text
