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
        "/polls、/poll 编号、/predict 数值、/leaderboard:预测投票\n"
        "/subscribe [主题]、/unsubscribe [主题]、/alerts:数据与新闻推送\n/help:帮助\n"
        "管理员:/newpoll 指标 期间 [截止日期]、/closepoll、/resolve、/reload;发送表格并附言 /ingest 导入数据",
        "Just send a question (in groups use /ask, mention me, or reply to one of my messages).\n"
        "/ask question: ask\n/chart topic: a chart (no topic lists them)\n/sources: where the data comes from\n"
        "/polls, /poll id, /predict number, /leaderboard: prediction polls\n"
        "/subscribe [topic], /unsubscribe [topic], /alerts: data and news alerts\n/help: this help\n"
        "Admins: /newpoll metric period [close date], /closepoll, /resolve, /reload; send a table with caption /ingest",
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
    "poll_how": (
        "预测方法:/predict #{id} 1500万亿(也可以写 1.5 quadrillion、1500T、1.5e15)",
        "To predict: /predict #{id} 1.5 quadrillion (or 1500万亿, 1500T, 1.5e15)",
    ),
    "status_open": ("进行中", "open"),
    "status_closed": ("截止", "closed"),
    "status_resolved": ("揭晓", "resolved"),
    "poll_closes": ("截止:{date}", "Closes: {date}"),
    "poll_replaced": ("(已替换你之前的预测)", "(this replaces your earlier prediction)"),
    "poll_unknown": (
        "这个聊天里没有这个投票编号。看看 /polls。",
        "There is no poll with that number in this chat. See /polls.",
    ),
    "poll_not_open": ("投票 #{id} 已{status},不能再预测。", "Poll #{id} is {status}: predictions are closed."),
    "predict_usage": (
        "用法:/predict [#编号] 数值,例如 /predict 1500万亿",
        "Usage: /predict [#id] number, e.g. /predict 1500T",
    ),
    "no_open_poll": ("这个聊天现在没有进行中的投票。", "There is no open poll in this chat."),
    "which_poll": (
        "有多个进行中的投票({ids}),请写上编号,例如 /predict #编号 数值。",
        "Several polls are open ({ids}): add the number, e.g. /predict #id value.",
    ),
    "polls_header": ("进行中的投票:", "Open polls:"),
    "polls_line": (
        "#{id} {question}({n} 人预测,截止 {closes})",
        "#{id} {question} ({n} predictors, closes {closes})",
    ),
    "poll_closed": (
        "投票 #{id} 已截止,等待 IDC 公布数字后自动揭晓。",
        "Poll #{id} is closed; it resolves when the figure is published.",
    ),
    "resolved_by_hand": ("管理员 {name} 手动录入", "entered by admin {name}"),
    "leaderboard_empty": ("还没有已揭晓的投票。", "No poll has been resolved in this chat yet."),
    "leaderboard_header": ("排行榜(平均误差越小越好):", "Leaderboard (lower mean error is better):"),
    "leaderboard_line": (
        "{i}. {name}:平均误差 {score},参与 {n} 次,最好名次 {best}",
        "{i}. {name}: mean error {score}, {n} polls, best rank {best}",
    ),
    "poll_reminder": (
        "提醒:投票 #{id}「{question}」明天截止,还没预测的抓紧 /predict。",
        "Reminder: poll #{id} “{question}” closes tomorrow. Predict with /predict.",
    ),
    "not_chat_admin": (
        "只有群管理员可以修改本群的订阅。",
        "Only this group's admins can change its subscriptions.",
    ),
    "subscribed": (
        "已订阅:{topic}。有新数据时会推送到这里。",
        "Subscribed to {topic}. New data will be posted here.",
    ),
    "unsubscribed": ("已取消订阅:{topic}。", "Unsubscribed from {topic}."),
    "not_subscribed": ("本聊天没有订阅 {topic}。", "This chat was not subscribed to {topic}."),
    "everything": ("全部", "everything"),
    "no_subscriptions": (
        "本聊天还没有订阅。用 /subscribe 订阅全部,或 /subscribe 火山引擎、/subscribe 新闻。",
        "This chat follows nothing yet. /subscribe for everything, or /subscribe Google, /subscribe news.",
    ),
    "subscriptions_header": ("本聊天订阅了:", "This chat follows:"),
    "upload_type": (
        "「{name}」不是支持的格式:请上传 CSV、XLSX 或 Markdown 表格。",
        "“{name}” is not a supported file: send a CSV, XLSX or Markdown table.",
    ),
    "upload_size": ("「{name}」太大了(上限 {limit} MB)。", "“{name}” is too large (the limit is {limit} MB)."),
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
    "predict": ("预测投票:/predict [#编号] 数值", "Predict: /predict [#id] number"),
    "polls": ("进行中的预测投票", "Open prediction polls"),
    "poll": ("查看投票分布", "A poll's distribution"),
    "leaderboard": ("预测排行榜", "Prediction leaderboard"),
    "subscribe": ("订阅数据与新闻推送", "Follow new data and news"),
    "unsubscribe": ("取消订阅", "Stop following"),
    "alerts": ("本聊天的订阅", "What this chat follows"),
    "help": ("帮助", "Help"),
    "start": ("开始", "Start"),
}


def lang_of(language_code: str | None) -> Lang:
    """Chinese for zh* user interfaces, English otherwise."""
    return "zh" if (language_code or "").lower().startswith("zh") else "en"


def text(key: str, lang: Lang, **values: object) -> str:
    zh, en = TEXTS[key]
    return (zh if lang == "zh" else en).format(**values)
