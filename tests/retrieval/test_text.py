import pytest

from retrieval.text import add_words, normalize, tokenize


@pytest.mark.parametrize("word", ["火山引擎", "豆包", "大模型", "调用量", "公有云", "千万亿"])
def test_domain_words_stay_whole(word):
    text = f"据报道,{word}的数据在今年上半年增长很快。"
    assert word in tokenize(text)


def test_english_is_lowercased_and_punctuation_dropped():
    tokens = tokenize("Volcano Engine's MaaS share: 49.2%!")
    assert tokens == ["volcano", "engine", "s", "maas", "share", "49.2"]


def test_stopwords_and_punctuation_are_dropped():
    tokens = tokenize("这是豆包的调用量。The share of the market")
    assert "的" not in tokens and "是" not in tokens and "the" not in tokens and "of" not in tokens
    assert "。" not in tokens
    assert "share" in tokens and "market" in tokens


def test_normalize_folds_full_width_case_and_whitespace():
    assert normalize("  ＭａａＳ\t 市场\n\n２０２５ ") == "maas 市场 2025"


def test_added_words_are_kept_whole():
    assert "鲸鱼云栈" not in tokenize("鲸鱼云栈发布了新模型")
    add_words(["鲸鱼云栈", "  ", "Google 云"])
    assert "鲸鱼云栈" in tokenize("鲸鱼云栈发布了新模型")


def test_empty_text_has_no_tokens():
    assert tokenize("") == []
    assert tokenize(" ,。!") == []
