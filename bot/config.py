"""Settings: the one place that reads the environment (and `.env`).

Every other module receives the values it needs through its constructor.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_FEED_KEYWORDS = ("IDC", "大模型公有云", "tokens", "调用量", "MaaS")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Configuration from environment variables or `.env`; names match README and `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr = SecretStr("")
    telegram_api_base_url: str = ""
    telegram_file_base_url: str = ""
    admin_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    marketbot_data_dir: Path = Path("var")
    database_url: str = ""
    chroma_url: str = ""
    embeddings: str = "hashed"
    llm_base_url: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_model: str = ""
    llm_timeout: float = 8.0
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret_token: SecretStr = SecretStr("")
    feed_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    feed_keywords: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_FEED_KEYWORDS))
    feed_interval: float = 900.0
    poll_reminder_hours: float = 24.0
    log_level: str = "INFO"

    @field_validator("admin_user_ids", "feed_urls", "feed_keywords", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("webhook_secret_token")
    @classmethod
    def _webhook_secret_shape(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value().strip()
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError(
                "WEBHOOK_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)"
            )
        return value

    @cached_property
    def data_dir(self) -> Path:
        path = self.marketbot_data_dir.expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'marketbot.sqlite3'}"

    @property
    def has_token(self) -> bool:
        return bool(self.telegram_bot_token.get_secret_value().strip())

    @property
    def webhook_secret(self) -> str:
        """WEBHOOK_SECRET_TOKEN, or one derived from the bot token: every replica derives the same, so a
        webhook is never left open to whoever finds its URL, and replicas never overwrite each other's."""
        configured = self.webhook_secret_token.get_secret_value().strip()
        if configured:
            return configured
        token = self.telegram_bot_token.get_secret_value().strip().encode()
        return hmac.new(token, b"marketbot-webhook", hashlib.sha256).hexdigest()
