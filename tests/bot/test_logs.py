"""The bot token never reaches a log record, from any logger, however the message is built."""

import logging

from bot.logs import protect_logs, redact, setup_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_redact_replaces_token_shaped_text():
    assert (
        redact(f"POST https://api.telegram.org/bot{TOKEN}/getMe")
        == "POST https://api.telegram.org/bot<token>/getMe"
    )


def test_records_from_any_logger_are_redacted_including_arguments(caplog):
    protect_logs()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("some.library").debug("Set Bot API URL: %s", f"http://127.0.0.1/bot{TOKEN}")
    logging.getLogger("telegram.ext.ExtBot").info(f"url=http://x/bot{TOKEN}/sendMessage")
    assert TOKEN not in caplog.text
    assert caplog.text.count("<token>") == 2


def test_httpx_request_lines_stay_below_info():
    protect_logs()
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


def test_job_scheduler_chatter_stays_below_info_but_our_info_is_kept():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO")
        assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
        assert logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.WARNING)
        assert logging.getLogger("bot.handlers.admin").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
