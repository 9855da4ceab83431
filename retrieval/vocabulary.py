"""The words the rules listen for: measures, intents, period words, vendors the data does not cover.

Kept apart from the rules so that adding a phrasing is a one-line data change, never a new branch.
Word lists are "|"-separated strings, matched on lower-cased, NFKC-normalised text.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(word for word in text.split("|") if word)


SHARE_WORDS = _words("份额|市场份额|占比|市占率|占有率|share|market share|")

DAILY_WORDS = _words("日均|每天|每日|一天|单日|daily|per day|a day|each day|")

MONTHLY_WORDS = _words(
    "月均|每月|每个月|单月|一个月|monthly|per month|a month|each month|"
    "月调用量|月用量|月度|按月|per-month|month's|a month's|"
)

VOLUME_WORDS = _words("调用量|调用|tokens|token|词元|用量|使用量|消耗量|volume|usage|processed|served|总量|规模|")

MARKET_WORDS = _words("公有云|public cloud|maas|idc|大模型云|模型即服务|市场|market|")

NATIONAL_WORDS = _words("全国|我国|国家数据局|nationwide|national|whole country|national data administration|")

CHINA_WORDS = _words("中国|china|chinese|国内|")

RATIO_WORDS = _words(
    "几倍|多少倍|倍数|倍|how many times|times larger|times bigger|times more|times as|times the|multiple of|ratio|"
)

DIFFERENCE_WORDS = _words(
    "差值|差距|差多少|相差|多多少|少多少|多了多少|增加了多少|增长了多少|涨了多少|多出|how much more|how much less|difference|gap|"
    "how much did|increase by|grow by|grew by|more tokens|how many more|高了|低了|高多少|低多少|百分点|"
    "percentage point|points|how much higher|how much lower|"
)

GROWTH_WORDS = _words(
    "增长率|增速|增幅|增长了百分之|百分之多少|涨幅|同比|环比|growth rate|percent|percentage|% growth|grow|grew|growth|"
    "increase|增长|涨|"
)

SUM_WORDS = _words(
    "合计|加起来|总共|一共|共计|之和|combined|together|in total|sum of|add up|"
    "前三家|前两家|top three|top 3|top two|top 2|三家合计|总和|"
)

REST_WORDS = _words(
    "以外|之外|其他|其余|剩下|剩余|除了|除去|others|the rest|other vendors|excluding|apart from|besides|"
    "everyone else|remaining|"
    "other than|except|not counting|outside of|aside from|剩余部分|之外的|"
)

AVERAGE_WORDS = _words("平均|average|on average|mean|均|")

PROJECTION_WORDS = _words(
    "如果|假如|假设|按照|照此|持平|保持|不变|一样|预计|预测|推算|if |assuming|suppose|stays|flat|same pace|project|"
    "extrapolat|would the full year|full-year estimate|"
    "速度|照这个|按这个|at this rate|same pace|pace|run rate|run-rate|继续|延续|"
)

RANKING_WORDS = _words(
    "第一|第二|第三|排名|排第|哪家|谁|领先|最大|最多|最高|龙头|老大|leads|leader|leading|largest|biggest|top|rank|"
    "ranking|first place|second|third|who |which vendor|which cloud|number one|no. 1|#1|"
)

LATEST_WORDS = _words("最新|最近|目前|现在|当前|latest|most recent|newest|current|now|")

SERIES_WORDS = _words(
    "变化|趋势|走势|历程|历史|各期|每期|一路|演变|over time|trend|history|changed|evolve|series|trajectory|"
    "each period|all periods|"
)

CONVERT_WORDS = _words(
    "换成|等于多少|是多少 trillion|用英文|英文|用中文|convert|in trillion|in 万亿|expressed in|"
    "how many trillion|how many 万亿|how much is|in chinese units|in english|"
    "是多少万亿|是多少亿|是多少千万亿|多少个万亿|换算成|用万亿|用亿|"
)

WHY_WORDS = _words(
    "为什么|为何|原因|发生了什么|怎么回事|什么事|由于|因为什么|驱动|拐点|why|what happened|reason|cause|driver|what drove|"
    "explain|turning point|inflection|"
    "包括|包含|含不含|算不算|统计范围|是什么意思|什么意思|include|included|includes|count toward|definition|what does|mean by|"
)

# What someone did or announced: an event, told by the article, unless the question also names a measure
# ("what did Doubao's daily tokens reach" asks for a figure).
EVENT_WORDS = _words(
    "做了什么|干了什么|做了哪些|发布了什么|推出了什么|宣布了什么|披露了什么|有什么动作|有何动作|有什么举措|"
    "what did|what has|did it do|announce|launched|released|unveiled|disclosed|"
)

CLAIM_WORDS = _words(
    "对吗|对不对|是否正确|正确吗|是真的吗|真的吗|属实|准确吗|靠谱吗|有误|没错吧|是不是|is it true|is that right|is this right|"
    "correct?|accurate|true?|right?|fact-check|fact check|verify|check the claim|claims that|"
    "says that|said that|"
)

ARTICLE_WORDS = _words("文章|作者|阑夕|文中|原文|article|author|the piece|the post|")

# Cloud and AI companies users ask about that the data does not cover. A question whose subject is one of
# these (and none of ours) is answered "not in the data", listing what is covered instead.
# fmt: off
OTHER_VENDORS: dict[str, tuple[str, str]] = {
    "microsoft": ("微软", "Microsoft"), "azure": ("微软 Azure", "Microsoft Azure"), "微软": ("微软", "Microsoft"),
    "aws": ("亚马逊 AWS", "AWS"), "amazon": ("亚马逊", "Amazon"), "亚马逊": ("亚马逊", "Amazon"),
    "tencent": ("腾讯云", "Tencent Cloud"), "腾讯": ("腾讯云", "Tencent Cloud"),
    "huawei": ("华为云", "Huawei Cloud"), "华为": ("华为云", "Huawei Cloud"),
    "京东": ("京东云", "JD Cloud"), "jd cloud": ("京东云", "JD Cloud"),
    "天翼云": ("天翼云", "China Telecom Cloud"), "移动云": ("移动云", "China Mobile Cloud"),
    "联通云": ("联通云", "China Unicom Cloud"), "金山云": ("金山云", "Kingsoft Cloud"),
    "ucloud": ("UCloud", "UCloud"), "oracle": ("甲骨文", "Oracle"), "甲骨文": ("甲骨文", "Oracle"),
    "openai": ("OpenAI", "OpenAI"), "anthropic": ("Anthropic", "Anthropic"), "meta": ("Meta", "Meta"),
    "xai": ("xAI", "xAI"), "salesforce": ("Salesforce", "Salesforce"), "databricks": ("Databricks", "Databricks"),
    "智谱": ("智谱", "Zhipu"), "zhipu": ("智谱", "Zhipu"), "月之暗面": ("月之暗面", "Moonshot"),
    "moonshot": ("月之暗面", "Moonshot"), "kimi": ("Kimi", "Kimi"), "minimax": ("MiniMax", "MiniMax"),
    "商汤": ("商汤", "SenseTime"), "sensetime": ("商汤", "SenseTime"), "讯飞": ("科大讯飞", "iFlytek"),
    "iflytek": ("科大讯飞", "iFlytek"), "百川": ("百川智能", "Baichuan"), "零一万物": ("零一万物", "01.AI"),
    "阶跃星辰": ("阶跃星辰", "StepFun"), "快手": ("快手", "Kuaishou"), "美团": ("美团", "Meituan"),
    "小米": ("小米", "Xiaomi"), "deepseek": ("DeepSeek", "DeepSeek"), "深度求索": ("深度求索", "DeepSeek"),
    "nvidia": ("英伟达", "NVIDIA"), "英伟达": ("英伟达", "NVIDIA"), "apple": ("苹果", "Apple"), "苹果": ("苹果", "Apple"),
    "腾讯混元": ("腾讯混元", "Tencent Hunyuan"), "通义": ("通义千问", "Qwen"), "qwen": ("通义千问", "Qwen"),
    "文心": ("文心一言", "ERNIE"), "ernie": ("文心一言", "ERNIE"), "抖音": ("抖音", "Douyin"),
    "字节跳动": ("字节跳动", "ByteDance"),
}

# English words that the Chinese article uses in Chinese: lets an English question find a Chinese passage.
GLOSSARY: dict[str, str] = {
    "february": "2 月", "july": "7 月", "june": "6 月", "may": "5 月", "why": "为什么", "surge": "暴涨 飙升 爆发",
    "spike": "暴涨 拐点", "jump": "暴涨 拐点", "boom": "爆火 爆发", "explode": "爆发 飙升", "growth": "增长",
    "inflection": "拐点", "turning point": "拐点", "price cut": "降价", "price war": "降价 风潮",
    "cheaper": "降价", "gpu": "GPU", "gpus": "GPU", "train": "训练", "training": "训练", "inference": "推理",
    "open source": "开源", "open-source": "开源", "share": "份额", "market share": "市场份额",
    "external": "外部企业客户", "customers": "客户", "internal": "内部产品", "developers": "开发者",
    "developer": "开发者", "model store": "模型商店", "supermarket": "超市", "plugin": "插件",
    "killer app": "杀手级 App", "commoditization": "商品化", "commodity": "商品化", "leader": "第一",
    "leads": "第一", "idc": "IDC", "report": "报告", "half": "上半年", "first half": "上半年",
    "ratio": "倍", "double": "倍", "predict": "预测", "forecast": "预测", "guess": "预测",
    "bottleneck": "瓶颈", "naming": "命名", "cost": "成本", "revolution": "革命", "infra": "Infra",
    "efficiency": "效率", "benchmark": "评测集", "evaluation": "评测", "barometer": "晴雨表",
    "volume": "调用量", "tokens": "Tokens 调用量", "usage": "调用量 使用量", "doubao": "豆包",
    "volcano": "火山引擎", "bytedance": "字节", "google": "Google", "deepseek": "DeepSeek",
}
# fmt: on

# fmt: off
MONTH_NAMES = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
# fmt: on

# fmt: off
CHINESE_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
                  "十一": 11, "十二": 12}
# fmt: on

# fmt: off
ORDINALS = {
    "第一": 1, "第二": 2, "第三": 3, "第四": 4, "first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1,
    "2nd": 2, "3rd": 3, "4th": 4, "top": 1, "leads": 1, "leader": 1, "leading": 1, "largest": 1,
    "biggest": 1, "最大": 1, "领先": 1, "龙头": 1, "老大": 1, "number one": 1, "no. 1": 1, "#1": 1,
}
# fmt: on
