import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from knowledge.catalog import load_errata, load_metrics
from knowledge.loaders import default_corpus_dir, load_corpus
from retrieval.llm import LLM, from_settings, numbers_grounded
from retrieval.pipeline import Answer, Pipeline

API_KEY = "sk-test-SECRET-0123456789abcdef"
RATIO_QUESTION = "2025 上半年的调用量是 2024 全年的多少倍?"
HINTS = "实体: 火山引擎, 中国大模型公有云市场; 指标: Tokens 调用量, 市场份额; 时期: 2024, 2025H1, 2025-05"


class FakeOpenAI:
    """A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions shape; tests set its behaviour."""

    def __init__(self):
        self.reply = ""
        self.status = 200
        self.body = None  # raw bytes sent instead of a completion
        self.delay = 0.0
        self.requests = []
        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "json": payload,
                    }
                )
                if fake.delay:
                    fake.released.wait(fake.delay)
                body = fake.body if fake.body is not None else json.dumps(fake.completion(payload)).encode()
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        return Handler

    def completion(self, payload):
        if self.status != 200:
            return {"error": {"message": f"Incorrect API key provided: {API_KEY}", "type": "server_error"}}
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload.get("model", "test-model"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }


@pytest.fixture
def server(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeOpenAI()
    fake.thread.start()
    yield fake
    fake.released.set()
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def llm(server):
    return LLM(server.url, API_KEY, "test-model", timeout=5.0)


@pytest.fixture(scope="module")
def pipeline():
    # The figure questions below never reach passage search, so no searcher is needed.
    root = default_corpus_dir()
    return Pipeline(load_corpus(), None, load_metrics(root), load_errata(root))


@pytest.fixture(scope="module")
def ratio_answer(pipeline):
    answer = pipeline.answer(RATIO_QUESTION)
    assert answer.status == "answered"
    assert "536.7 万亿" in answer.answer and "114.2 万亿" in answer.answer
    return answer


GROUNDED_ZH = (
    "2025 年上半年,中国大模型公有云 Tokens 调用量达 536.7 万亿,约为 2024 年全年 114.2 万亿的 4.70 倍"
    "(536.7 万亿 ÷ 114.2 万亿 ≈ 4.70×)。注意这是半年与全年相比。"
    "来源:IDC 中国大模型公有云服务市场分析 2025H1;IDC 中国公有云大模型服务市场格局分析 1Q25。"
)


# --- rephrase ---------------------------------------------------------------------------------------------


def test_grounded_rephrase_is_accepted(server, llm, ratio_answer):
    server.reply = GROUNDED_ZH
    assert llm.rephrase(ratio_answer) == GROUNDED_ZH
    request = server.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert request["json"]["model"] == "test-model"
    assert request["json"]["messages"][-1]["content"] == ratio_answer.answer
    assert "Simplified Chinese" in request["json"]["messages"][0]["content"]


@pytest.mark.parametrize(
    "reply",
    [
        GROUNDED_ZH.replace("536.7 万亿", "600 万亿"),
        GROUNDED_ZH + "同比增长 300%。",
        GROUNDED_ZH.replace("4.70 倍", "5 倍"),
        GROUNDED_ZH + "火山引擎份额为 46.4%。",
    ],
    ids=["changed-figure", "added-growth", "changed-ratio", "figure-from-elsewhere"],
)
def test_rephrase_with_an_invented_number_is_rejected(server, llm, ratio_answer, reply):
    server.reply = reply
    assert llm.rephrase(ratio_answer) is None


def test_rephrase_in_the_other_unit_system_is_accepted(server, llm, ratio_answer):
    server.reply = (
        "In the first half of 2025 China's public-cloud LLM token volume reached 536.7 trillion, "
        "4.70× the 114.2 trillion of the whole of 2024 (536.7 trillion ÷ 114.2 trillion ≈ 4.70×). "
        "Note: a half year is compared with a full year. Sources: IDC (2025-09, 2025-03)."
    )
    assert llm.rephrase(ratio_answer) == server.reply


def test_rephrase_written_with_other_chinese_units_is_accepted(server, llm, ratio_answer):
    server.reply = GROUNDED_ZH.replace("536.7 万亿", "5,367,000 亿").replace("114.2 万亿", "1,142,000 亿")
    assert llm.rephrase(ratio_answer) == server.reply


def test_rephrase_that_drops_a_figure_is_rejected(server, llm, ratio_answer):
    server.reply = "2025 年上半年的调用量是 2024 年全年的 4.70 倍。"
    assert llm.rephrase(ratio_answer) is None


def test_empty_rephrase_is_rejected(server, llm, ratio_answer):
    server.reply = "   "
    assert llm.rephrase(ratio_answer) is None


def test_injected_chat_model_is_used(server, ratio_answer):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=server.url, api_key=API_KEY, model="injected", timeout=5, max_retries=0)
    server.reply = GROUNDED_ZH
    llm = LLM("http://unused.invalid/v1", "unused", "unused", chat_model=chat)
    assert llm.rephrase(ratio_answer) == GROUNDED_ZH
    assert server.requests[-1]["json"]["model"] == "injected"


# --- failures ---------------------------------------------------------------------------------------------


def test_slow_server_times_out_quickly(server, ratio_answer):
    timeout = 0.5
    llm = LLM(server.url, API_KEY, "test-model", timeout=timeout)
    server.reply = GROUNDED_ZH
    assert llm.rephrase(ratio_answer) == GROUNDED_ZH  # warm: the first call pays the langchain import
    server.delay = 10.0
    started = time.perf_counter()
    assert llm.rephrase(ratio_answer) is None
    assert time.perf_counter() - started < timeout + 2
    assert len(server.requests) == 2  # no retries


def test_server_error_gives_none(server, llm, ratio_answer):
    server.status = 500
    assert llm.rephrase(ratio_answer) is None
    assert llm.reformulate("火山引擎那个数咋样", HINTS) is None
    assert len(server.requests) == 2  # one request each: no retries


def test_malformed_json_gives_none(server, llm, ratio_answer):
    server.body = b'{"id": "x", "choices": [ {not json'
    assert llm.rephrase(ratio_answer) is None


def test_wrong_shape_gives_none(server, llm, ratio_answer):
    server.body = json.dumps({"hello": "world"}).encode()
    assert llm.rephrase(ratio_answer) is None


def test_unreachable_endpoint_gives_none(ratio_answer):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    llm = LLM(f"http://127.0.0.1:{port}/v1", API_KEY, "m", timeout=2)
    assert llm.rephrase(ratio_answer) is None


@pytest.mark.parametrize("status", [500, 401])
def test_api_key_never_reaches_the_logs(server, llm, ratio_answer, caplog, status):
    caplog.set_level(logging.DEBUG)
    server.status = status  # the error body quotes the key, as real providers do
    assert llm.rephrase(ratio_answer) is None
    assert llm.reformulate("火山引擎那个数咋样", HINTS) is None
    warnings = [r for r in caplog.records if r.name == "retrieval.llm" and r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "***" in warnings[0].getMessage()
    assert API_KEY not in caplog.text
    assert all(API_KEY not in r.getMessage() for r in caplog.records)
    assert API_KEY not in repr(llm)


# --- reformulate ------------------------------------------------------------------------------------------


def test_reformulate_returns_the_restated_question(server, llm):
    server.reply = "  火山引擎 2025 年上半年在中国大模型公有云市场的份额是多少?\n"
    restated = llm.reformulate("火山那家上半年份额咋样了", HINTS)
    assert restated == "火山引擎 2025 年上半年在中国大模型公有云市场的份额是多少?"
    system = server.requests[-1]["json"]["messages"][0]["content"]
    assert HINTS in system


def test_reformulate_keeps_numbers_from_the_question(server, llm):
    server.reply = "How many tokens per day did Doubao process when it passed 30 trillion?"
    assert llm.reformulate("doubao when > 30T a day??", HINTS) == server.reply


@pytest.mark.parametrize(
    "reply",
    ["火山引擎 2025 年上半年份额是否超过 50%?", "豆包日均调用量 16.4 万亿是哪个月?"],
)
def test_reformulate_with_an_invented_number_is_rejected(server, llm, reply):
    server.reply = reply
    assert llm.reformulate("火山那家上半年份额咋样了", HINTS) is None


@pytest.mark.parametrize("reply", ["", "   \n ", "火山引擎的份额是多少?" * 40])
def test_reformulate_rejects_empty_or_long_replies(server, llm, reply):
    server.reply = reply
    assert llm.reformulate("火山那家上半年份额咋样了", HINTS) is None


# --- settings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "model"), [("", "deepseek-chat"), ("https://api.deepseek.com/v1", ""), ("", ""), ("  ", "m")]
)
def test_from_settings_without_endpoint_or_model_is_none(base_url, model):
    assert from_settings(base_url, API_KEY, model, 8.0) is None


def test_from_settings_builds_lazily_even_without_a_key():
    llm = from_settings("https://api.deepseek.com/v1", "", "deepseek-chat", 3.0)
    assert isinstance(llm, LLM)
    assert (llm.base_url, llm.model, llm.timeout) == ("https://api.deepseek.com/v1", "deepseek-chat", 3.0)


# --- numbers_grounded -------------------------------------------------------------------------------------


def share_answer(pipeline):
    answer = pipeline.answer(
        "By how many percentage points did Volcano Engine's share change from 2024 to 2025H1?"
    )
    assert any(c.unit == "points" for c in answer.computations), answer.answer
    return answer


@pytest.mark.parametrize(
    ("text", "grounded"),
    [
        ("536.7 万亿是 114.2 万亿的 4.7 倍", True),
        ("约 537 万亿", True),  # within 0.5 %
        ("540 万亿", False),
        ("536.7 trillion and 114.2 trillion", True),
        ("5.367e14 tokens", True),
        ("4.6996x", True),
        ("4.70%", False),  # a ratio is not a percent
        ("2024 年和 2025 年上半年", True),
        ("in 2024 and 2025", True),
        ("在 2023 年", True),  # the reader skips bare years, whatever they are
        ("增长了 370%", False),
        ("共 2 个来源", False),
        ("hehuxinxi.cn/?p=53116", True),  # numbers of the deterministic text itself
        ("", True),
    ],
)
def test_numbers_grounded_against_the_ratio_answer(ratio_answer, text, grounded):
    assert numbers_grounded(text, ratio_answer) is grounded


def test_percent_and_points_are_not_interchangeable(pipeline):
    answer = share_answer(pipeline)
    points = next(c for c in answer.computations if c.unit == "points")
    shares = [f.value for f in answer.facts]
    assert numbers_grounded(f"份额从 {shares[0]}% 变为 {shares[1]}%", answer)
    assert numbers_grounded(f"上升 {points.result:.1f} 个百分点", answer)
    assert numbers_grounded(f"up {points.result:.1f} pp", answer)
    assert not numbers_grounded(f"上升 {points.result:.1f}%", answer)


def test_numbers_from_the_question_are_allowed():
    answer = Answer(
        question="What was 2 + 40 trillion?",
        answer="I have no figure for that.",
        status="not_found",
        language="en",
    )
    assert numbers_grounded("You asked about 40 trillion.", answer)
    assert numbers_grounded("40T and 2", answer)
    assert not numbers_grounded("You asked about 41 trillion.", answer)


def test_day_counts_of_the_deterministic_text_are_allowed():
    answer = Answer(question="q", answer="按每月 30 天折算,约 492 万亿。", status="answered", language="zh")
    assert numbers_grounded("以 30 days 计,about 492 trillion", answer)
    assert not numbers_grounded("以 31 天计,约 508 万亿", answer)


# --- through the pipeline -----------------------------------------------------------------------------------


def pipeline_with(llm_):
    root = default_corpus_dir()
    return Pipeline(load_corpus(), None, load_metrics(root), load_errata(root), llm=llm_)


def test_pipeline_uses_a_grounded_rephrase_and_keeps_its_figures(server, llm, ratio_answer):
    server.reply = GROUNDED_ZH
    answer = pipeline_with(llm).answer(RATIO_QUESTION)
    assert answer.answer == GROUNDED_ZH
    assert answer.facts == ratio_answer.facts
    assert answer.computations == ratio_answer.computations


def test_pipeline_keeps_the_deterministic_answer_when_the_llm_invents_a_number(server, llm, ratio_answer):
    server.reply = GROUNDED_ZH.replace("4.70 倍", "5.2 倍")
    answer = pipeline_with(llm).answer(RATIO_QUESTION)
    assert answer.answer == ratio_answer.answer


def test_pipeline_falls_back_quickly_when_the_llm_times_out(server, ratio_answer):
    slow = LLM(server.url, API_KEY, "test-model", timeout=1.0)
    server.reply = GROUNDED_ZH
    slow.rephrase(ratio_answer)  # pay the one-off client import outside the timed call
    server.delay = 5.0
    started = time.perf_counter()
    answer = pipeline_with(slow).answer(RATIO_QUESTION)
    assert time.perf_counter() - started < 3.0
    assert answer.answer == ratio_answer.answer


def test_pipeline_lets_the_llm_restate_a_question_the_rules_miss(server, llm):
    question = "字节那家云占几成"
    assert pipeline_with(None).answer(question).status == "not_found"
    server.reply = "火山引擎 2025 年上半年的市场份额是多少?"
    answer = pipeline_with(llm).answer(question)
    assert answer.status == "answered"
    assert answer.question == question
    assert "49.2%" in answer.answer
