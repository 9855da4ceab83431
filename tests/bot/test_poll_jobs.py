"""The poll jobs of the running bot: a reminder before a poll closes (once), and closing overdue polls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import make_settings, running_bot

from bot.storage import Storage

GROUP = -100777


async def seed_poll(tmp_path, server, closes_at: datetime) -> int:
    """A poll written straight into the bot's database before it starts (as another replica would)."""
    storage = Storage(make_settings(server, tmp_path / "bot-data").database)
    await storage.open()
    try:
        poll = await storage.create_poll(
            GROUP, "maas_tokens", "china_public_cloud", "2025", "IDC:中国大模型公有云 Tokens 调用量,2025 年全年?",
            42, closes_at,
        )  # fmt: skip
        return poll.id
    finally:
        await storage.close()


async def test_a_poll_closing_soon_is_reminded_once(server, services, tmp_path):
    poll_id = await seed_poll(tmp_path, server, datetime.now(UTC) + timedelta(hours=5))
    async with running_bot(server, tmp_path, services=services, job_interval=0.3) as (app, _):
        (reminder,) = await server.wait_for("sendMessage", chat_id=GROUP, timeout=10)
        assert f"#{poll_id}" in reminder.params["text"] and "明天截止" in reminder.params["text"]
        await app.job_queue.get_jobs_by_name("poll-reminders")[0].run(app)
    assert len(server.sent("sendMessage", chat_id=GROUP)) == 1


async def test_a_poll_not_yet_due_gets_no_reminder(server, services, tmp_path):
    await seed_poll(tmp_path, server, datetime.now(UTC) + timedelta(days=10))
    async with running_bot(server, tmp_path, services=services, job_interval=0.3) as (app, _):
        await app.job_queue.get_jobs_by_name("poll-reminders")[0].run(app)
    assert server.sent("sendMessage", chat_id=GROUP) == []


async def test_an_overdue_poll_is_closed_and_the_chat_told(server, services, tmp_path):
    poll_id = await seed_poll(tmp_path, server, datetime.now(UTC) - timedelta(minutes=1))
    async with running_bot(server, tmp_path, services=services, job_interval=0.3):
        calls = await server.wait_for(
            "sendMessage", chat_id=GROUP, predicate=lambda c: "截止" in c.params.get("text", ""), timeout=10
        )
        assert f"#{poll_id}" in calls[0].params["text"]
        server.push_message(GROUP, f"/predict #{poll_id} 1500万亿", user_id=7, chat_type="supergroup")
        refusal = await server.wait_for(
            "sendMessage", chat_id=GROUP, predicate=lambda c: "closed" in c.params.get("text", ""), timeout=10
        )
        assert refusal
