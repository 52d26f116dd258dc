"""Application settings, read from the environment and `.env`, one section per concern."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"
DATABASE_FILE = "concierge.db"
CHROMA_DIR = "chroma"


def sqlite_url_in(var_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{var_dir / DATABASE_FILE}"


def _section(prefix: str) -> SettingsConfigDict:
    # Empty values count as unset, so a copied .env.example keeps every default.
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
    )


class TelegramSettings(BaseSettings):
    """How the bot reaches the messenger."""

    model_config = _section("TELEGRAM_")

    bot_token: SecretStr | None = None
    # Used to print t.me deep links without asking Telegram (getMe) first.
    bot_username: str | None = None
    # Banks often run the self-hosted Bot API server; empty means api.telegram.org.
    api_server_url: str | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook_base_url: str | None = None
    webhook_path: str = "/telegram/webhook"
    webhook_secret: SecretStr | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8080


class MaxSettings(BaseSettings):
    """The MAX messenger (platform-api.max.ru, or a bank's gateway in front of it)."""

    model_config = _section("MAX_")

    # From @MasterBot in MAX. Empty: no MAX channel (a process without it neither receives
    # from MAX nor sends there).
    bot_token: SecretStr | None = None
    # For printing max.ru deep links without asking MAX (GET /me) first.
    bot_username: str | None = None
    api_url: str = "https://platform-api.max.ru"
    mode: Literal["polling", "webhook"] = "polling"
    # Webhook mode: the public HTTPS base URL the reverse proxy exposes; the bot subscribes
    # <base><path> with MAX on start. MAX posts only to ports 80, 8080, 443, 8443, 16384-32383.
    webhook_base_url: str | None = None
    webhook_path: str = "/max/webhook"
    # Required in webhook mode: MAX sends it in X-Max-Bot-Api-Secret (5-256 of A-Z a-z 0-9 _ -).
    webhook_secret: SecretStr | None = None
    # Where this replica listens for MAX when Telegram's webhook is not served from the same
    # process (otherwise MAX's path is added to Telegram's webhook server).
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8081
    # MAX allows 30 requests/s per bot; the outbox stays under it.
    rate_per_second: float = Field(default=25.0, gt=0)
    per_chat_interval_seconds: float = Field(default=1.0, ge=0)

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # MAX refuses a subscription whose secret has other characters; say so at start-up.
        shape = r"[A-Za-z0-9_-]{5,256}"
        if value is not None and not re.fullmatch(shape, value.get_secret_value()):
            raise ValueError("MAX_WEBHOOK_SECRET: 5-256 characters of A-Z a-z 0-9 _ -")
        return value


class ObservabilitySettings(BaseSettings):
    """Health and Prometheus metrics endpoints."""

    model_config = _section("METRICS_")

    # Polling and console modes: a small HTTP server for /healthz and /metrics (unset: none).
    # In webhook mode the routes are served by the webhook app itself.
    port: int | None = None
    host: str = "127.0.0.1"
    # A health check slower than this counts as failed.
    check_timeout_seconds: float = 3.0


class DatabaseSettings(BaseSettings):
    """The CRM store."""

    model_config = _section("DATABASE_")

    # Unset: the SQLite file in CONCIERGE_VAR_DIR (see Settings).
    url: str = sqlite_url_in(DEFAULT_VAR_DIR)
    echo: bool = False
    # SQLite: deleted and overwritten content is zeroed in the file, not left in free pages
    # (crm_adapter.sqlite_driver.apply_pragmas). Off trades that for CPU on every update
    # (README, "Retention of personal data"); the one-off commands (erasure, purge) keep it.
    sqlite_secure_delete: bool = True


class RedisSettings(BaseSettings):
    """Optional Redis for FSM state, dedupe and throttling shared by replicas."""

    model_config = _section("REDIS_")

    url: str | None = None
    # Every key starts with it, so several deployments (or tests) can share one Redis.
    key_prefix: str = "concierge"
    # Telegram redelivers an unacknowledged update for up to 24 hours; past the claim's life
    # the database's unique update_id still refuses it.
    dedupe_ttl_seconds: int = 86_400
    # Abandoned conversations (a form left half-filled) are forgotten after this long.
    state_ttl_seconds: int = 7 * 86_400


class KnowledgeSettings(BaseSettings):
    """The retrieval index over the bank's documents."""

    model_config = _section("KNOWLEDGE_")

    docs_path: Path = PROJECT_ROOT / "knowledge" / "docs"
    # Unset: the "chroma" directory in CONCIERGE_VAR_DIR (see Settings).
    chroma_path: Path = DEFAULT_VAR_DIR / CHROMA_DIR
    chroma_url: str | None = Field(
        default=None, validation_alias=AliasChoices("CHROMA_URL", "KNOWLEDGE_CHROMA_URL")
    )
    embedding_model: str = Field(
        default="use-multilingual",
        validation_alias=AliasChoices("EMBEDDING_MODEL", "KNOWLEDGE_EMBEDDING_MODEL"),
    )
    collection: str = "bank_documents"
    min_confidence: float = 0.35
    # How often (at most) a running bot checks whether another process re-ingested into the
    # shared index, and reloads its lexical index if so. 0: before every question.
    index_check_seconds: float = 5.0
    # Up to this many chunks every vector is held in memory and ranked exactly (a fraction of
    # a millisecond); above it the question goes to Chroma's approximate (HNSW) index.
    exact_search_max_chunks: int = Field(default=20_000, ge=0)


class LlmSettings(BaseSettings):
    """Optional answer generation through an OpenAI-compatible endpoint the bank runs."""

    model_config = _section("LLM_")

    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str = "local-model"
    timeout_seconds: float = 20.0


class BehaviourSettings(BaseSettings):
    """How the bot treats people: languages, throttling, limits."""

    model_config = _section("BOT_")

    default_language: Literal["ru", "en"] = "ru"
    # Flood control: at most `throttle_burst` updates per `throttle_window_seconds` per user.
    throttle_burst: int = 8
    throttle_window_seconds: float = 10.0
    max_text_length: int = 4000
    link_code_ttl_hours: int = 24
    consent_document_version: str = "2025-09-01"
    # A staff member may answer a relayed client message by replying to it for this many
    # days; later the reply is refused (start from the client's card instead), so an old
    # chat never stays a door to a client.
    relay_reply_days: int = Field(default=7, ge=1)
    # Keys the hashes of event check-in codes (HMAC-SHA256), so a copy of the database alone
    # cannot be searched for the codes. Required in production, the same on every process;
    # elsewhere a random key is made once in CONCIERGE_VAR_DIR/checkin.key.
    checkin_secret: SecretStr | None = None


class SchedulerSettings(BaseSettings):
    """Proactive work: the scheduler, the outbox and the contact policy."""

    model_config = _section("SCHEDULER_")

    enabled: bool = True
    timezone: str = "Europe/Moscow"
    global_rate_per_second: float = 25.0
    per_chat_interval_seconds: float = 1.0
    marketing_per_week: int = 2
    briefing_lead_minutes: int = 120
    # Interaction logs older than this are purged daily (data minimisation).
    interaction_retention_days: int = 1095
    # How often replicas compete for (or the leader re-checks) the leader lock. A standby
    # takes over about one heartbeat after the leader's database connection drops.
    leader_heartbeat_seconds: float = Field(default=10.0, gt=0)


class WebSettings(BaseSettings):
    """The staff web desk: where it listens, its public address, how long sign-ins last."""

    model_config = _section("WEB_")

    # `concierge run` starts the desk beside the messenger or the console when true.
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8088
    # The address staff open (behind the bank's proxy: its HTTPS URL). Empty: http://host:port.
    base_url: str | None = None
    # A login link is single use and short-lived: it travels through a messenger.
    login_link_minutes: int = Field(default=10, ge=1, le=60)
    # Signed out after this long without a page view, and after `session_hours` in any case.
    idle_minutes: int = Field(default=30, ge=1)
    session_hours: int = Field(default=12, ge=1)
    # The session cookie is Secure (HTTPS only) in production; None: decided by the environment.
    secure_cookie: bool | None = None

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


class CrmSettings(BaseSettings):
    """The bank's own CRM, master of clients, staff and holdings (crm_adapter.master).

    `local`: the SQL store is the CRM (nothing is synced or written back). `bitrix24` and
    `webhook`: every interaction, request, note and consent change is queued in the store and
    written back; `bitrix24` is also read (clients, staff, holdings, life events) by the sync.
    """

    model_config = _section("CRM_")

    backend: Literal["local", "bitrix24", "webhook"] = "local"
    # Incremental sync (changes since the last one, plus removals) every this many minutes on
    # the scheduler's leader; a full sync once a day at `full_sync_hour` (scheduler timezone).
    sync_every_minutes: int = Field(default=5, ge=1)
    full_sync_hour: int = Field(default=3, ge=0, le=23)
    # Write-back: at most this many writes per request to the CRM (Bitrix24's batch holds 50).
    write_batch_size: int = Field(default=50, ge=1, le=50)
    # Backoff between attempts while the CRM is unreachable: doubling up to the cap.
    write_retry_base_seconds: float = Field(default=2.0, gt=0)
    write_retry_cap_seconds: float = Field(default=300.0, gt=0)
    # A write still undelivered after this long goes to the dead letters (admins see them).
    write_give_up_hours: float = Field(default=72.0, gt=0)

    # Bitrix24: an incoming webhook URL (https://portal/rest/<user>/<secret>/) ...
    bitrix24_webhook_url: SecretStr | None = None
    # ... or an OAuth application: the portal, the app's credentials and a refresh token.
    bitrix24_portal_url: str | None = None
    bitrix24_client_id: str | None = None
    bitrix24_client_secret: SecretStr | None = None
    bitrix24_refresh_token: SecretStr | None = None
    bitrix24_oauth_url: str = "https://oauth.bitrix.info/oauth/token/"
    # The portal's limit (leaky bucket: 2 requests/s on most plans); we pace below it.
    bitrix24_requests_per_second: float = Field(default=2.0, gt=0)
    bitrix24_timeout_seconds: float = Field(default=30.0, gt=0)
    # Smart processes holding products/holdings and life events, and the deal pipeline of
    # service requests.
    bitrix24_holdings_entity_type_id: int = 1032
    bitrix24_life_events_entity_type_id: int = 1036
    bitrix24_deal_category_id: int = 0

    # Generic webhook: signed JSON POSTs of every event (docs/crm-webhook.schema.json).
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)

    @property
    def writes_back(self) -> bool:
        """Whether the store queues its writes for an external CRM."""
        return self.backend != "local"


class Settings(BaseSettings):
    """All settings; each section reads its own prefixed variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    environment: Literal["local", "test", "production"] = Field(
        default="local", validation_alias=AliasChoices("CONCIERGE_ENV", "ENVIRONMENT")
    )
    var_dir: Path = Field(default=DEFAULT_VAR_DIR, validation_alias="CONCIERGE_VAR_DIR")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=False, validation_alias="LOG_JSON")

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    max: MaxSettings = Field(default_factory=MaxSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    behaviour: BehaviourSettings = Field(default_factory=BehaviourSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    crm: CrmSettings = Field(default_factory=CrmSettings)

    @model_validator(mode="after")
    def _files_in_var_dir(self) -> Settings:
        """The SQLite file and the local index follow CONCIERGE_VAR_DIR unless set themselves.

        The sections' defaults are fixed when the module loads, so without this a moved
        var directory moved only the console log.
        """
        if "url" not in self.database.model_fields_set:
            self.database = self.database.model_copy(update={"url": sqlite_url_in(self.var_dir)})
        if "chroma_path" not in self.knowledge.model_fields_set:
            self.knowledge = self.knowledge.model_copy(
                update={"chroma_path": self.var_dir / CHROMA_DIR}
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once."""
    return Settings()
