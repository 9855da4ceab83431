"""The bot's own words in Chinese and English; answers carry their own language from the pipeline."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

TEXTS: dict[str, tuple[str, str]] = {
    "start": (
        "你好,我是 marketbot:回答中国大模型公有云(MaaS)市场的问题,每个数字都有来源,计算过程也会写出来。"
        "直接提问,或者试试下面的例子。",
        "Hi, I'm marketbot: I answer questions about China's LLM public-cloud (MaaS) market. Every number comes "
        "with its source, and any arithmetic is shown. Ask away, or try one of these:",
    ),
    "help": (
        "直接发问题即可(群里请用 /ask、@我,或回复我的消息)。\n"
        "/ask 问题:提问\n/chart 主题:画图(不带主题则列出所有主题)\n/sources:数据来源\n"
        "/help:帮助\n管理员:/reload 重新载入数据",
        "Just send a question (in groups use /ask, mention me, or reply to one of my messages).\n"
        "/ask question: ask\n/chart topic: a chart (no topic lists them)\n/sources: where the data comes from\n"
        "/help: this help\nAdmins: /reload re-reads the data",
    ),
    "too_long": (
        "消息太长了({n} 个字符,上限 {limit})。请把问题缩短一些。",
        "That message is too long ({n} characters; the limit is {limit}). Please shorten your question.",
    ),
    "rate_limited": (
        "问得太快了,请 {seconds} 秒后再问。",
        "You're asking faster than I can keep up: please slow down and try again in {seconds} s.",
    ),
    "not_admin": (
        "抱歉,这个命令只有管理员可以使用。",
        "Sorry, only admins can use that command.",
    ),
    "reloaded": ("数据已重新载入:{summary}", "Data reloaded: {summary}"),
    "unknown_command": ("不认识这个命令。看看 /help。", "I don't know that command. See /help."),
    "ask_empty": (
        "请在 /ask 后面写上问题,例如:/ask 2024 年公有云调用量是多少?",
        "Put a question after /ask, e.g. /ask What was the 2024 volume?",
    ),
    "error": ("抱歉,出了点问题,请稍后再试。", "Sorry, something went wrong. Please try again later."),
    "expired": ("这条回答已过期,请重新提问。", "That answer has expired; please ask again."),
    "sources_button": ("来源", "Sources"),
    "chart_button": ("图表", "Chart"),
    "chart_topics": ("选择要画的图:", "Pick a chart:"),
    "chart_unknown": ("没有这个图表主题。可选:\n{topics}", "No such chart topic. Choose one of:\n{topics}"),
    "no_chart": ("这个回答没有可以画图的数据。", "This answer has nothing to chart."),
    "sources_header": (
        "数据来源(表格 / 报告 / 发布 / 行数):",
        "Data sources (table / report / published / rows):",
    ),
}

EXAMPLES: dict[Lang, tuple[str, ...]] = {
    "zh": ("2025 上半年的调用量是 2024 全年的几倍?", "火山引擎的市场份额是多少?", "2025 年 2 月为什么调用量暴涨?"),
    "en": (
        "How did Google's monthly tokens grow from May to June 2025?",
        "Who leads China's MaaS market?",
        "What was China's LLM public cloud token volume in 2024?",
    ),
}

COMMANDS: dict[str, tuple[str, str]] = {
    "ask": ("提问", "Ask a question"),
    "chart": ("画图:总量、份额、谷歌、豆包、全国", "Chart: totals, shares, Google, Doubao, national"),
    "sources": ("数据来源", "Where the data comes from"),
    "help": ("帮助", "Help"),
    "start": ("开始", "Start"),
}


def lang_of(language_code: str | None) -> Lang:
    """Chinese for zh* user interfaces, English otherwise."""
    return "zh" if (language_code or "").lower().startswith("zh") else "en"


def text(key: str, lang: Lang, **values: object) -> str:
    zh, en = TEXTS[key]
    return (zh if lang == "zh" else en).format(**values)
