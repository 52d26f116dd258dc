"""The one wiring point: builds the bots, the dispatcher and their services from settings.

Production, the local console and the tests all call `build_app`; only the messenger sessions
(real Telegram and MAX, the console, or recording sessions in tests) and the clock differ.
One dispatcher serves every messenger: each update arrives with its own bot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import ErrorEvent

from bot.channels import Messengers
from bot.filters import run_sync_filters_inline, skip_foreign_callbacks
from bot.max.session import MaxTransport
from bot.middlewares import UpdateContextMiddleware
from bot.observability import (
    ApiMetricsRequestMiddleware,
    Health,
    HealthCheck,
    Metrics,
    UpdateMetricsMiddleware,
    database_check,
    redis_check,
)
from bot.outbound import InteractionLogRequestMiddleware
from bot.replica_state import (
    ConversationEraser,
    MemoryThrottle,
    ReplicaState,
    Throttle,
    UpdateDedupe,
    build_replica_state,
)
from common.clock import Clock, SystemClock
from common.i18n import Catalog
from common.settings import Settings
from concierge.catalogue import load_catalogue
from concierge.identity import Identity
from concierge.notify import Notifier
from crm_adapter.sql import SqlCrm
from handlers import get_routers

log = logging.getLogger(__name__)

# Placeholder token for transports that never reach Telegram (console, tests); aiogram
# validates the token's shape only.
OFFLINE_TOKEN = "42:OFFLINE-console-and-tests-never-reach-telegram"
# aiogram wants a Telegram-shaped token; MAX's real one travels in the MAX session. The id
# part keeps conversation state of the two bots apart (it is part of every state key).
MAX_BOT_TOKEN_SHAPE = "0:max"


@dataclass
class App:
    settings: Settings
    crm: SqlCrm
    clock: Clock
    catalog: Catalog
    bot: Bot
    dispatcher: Dispatcher
    notifier: Notifier
    extras: dict[str, Any] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    health: Health = field(default_factory=lambda: Health({}, timeout_seconds=3.0))
    replica_state: ReplicaState | None = None
    # Every messenger's bot; `bot` is Telegram's (or the console's stand-in for it).
    messengers: Messengers = field(default_factory=lambda: Messengers({}))

    async def close(self) -> None:
        for bot in {id(b): b for b in (self.bot, *self.messengers.values())}.values():
            await bot.session.close()
        if self.replica_state is not None:
            await self.replica_state.close()
        await self.crm.close()


def create_bot(settings: Settings, *, session: BaseSession | None = None) -> Bot:
    if session is None:
        api = settings.telegram.api_server_url
        session = AiohttpSession(api=TelegramAPIServer.from_base(api)) if api else AiohttpSession()
    token = settings.telegram.bot_token
    return Bot(
        token=token.get_secret_value() if token else OFFLINE_TOKEN,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_max_bot(settings: Settings, *, session: BaseSession | None = None) -> Bot | None:
    """MAX's bot: with `session` (console, tests), or with MAX_BOT_TOKEN; else None."""
    if session is None:
        token = settings.max.bot_token
        if token is None:
            return None
        session = MaxTransport(token.get_secret_value(), api_url=settings.max.api_url)
    return Bot(
        token=MAX_BOT_TOKEN_SHAPE,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_dispatcher(
    settings: Settings,
    *,
    crm: SqlCrm,
    clock: Clock,
    catalog: Catalog,
    notifier: Notifier,
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
    throttle: Throttle | None = None,
    dedupe: UpdateDedupe | None = None,
    metrics: Metrics | None = None,
    **services: Any,
) -> Dispatcher:
    """The dispatcher with its middlewares and routers; `services` reach handlers by name."""
    metrics = metrics or Metrics()
    dp = Dispatcher(
        storage=storage or MemoryStorage(),
        events_isolation=events_isolation,
        settings=settings,
        crm=crm,
        clock=clock,
        catalog=catalog,
        notifier=notifier,
        metrics=metrics,
        **services,
    )
    # Outermost, so the latency covers identity, logging and the handler alike.
    dp.update.outer_middleware(UpdateMetricsMiddleware(metrics))
    dp.update.outer_middleware(
        UpdateContextMiddleware(
            crm=crm,
            clock=clock,
            catalog=catalog,
            throttle=throttle
            or MemoryThrottle(
                burst=settings.behaviour.throttle_burst,
                window_seconds=settings.behaviour.throttle_window_seconds,
            ),
            dedupe=dedupe,
            metrics=metrics,
            default_language=settings.behaviour.default_language,
        )
    )
    dp.include_routers(*get_routers())
    run_sync_filters_inline(dp)
    skip_foreign_callbacks(dp)
    dp.errors.register(_on_error)
    return dp


async def _on_error(event: ErrorEvent, **data: Any) -> bool:
    """Last line of defence: log the failure, tell the person, never crash polling."""
    log.exception("update %s failed", event.update.update_id, exc_info=event.exception)
    identity: Identity | None = data.get("identity")
    t = data.get("t")
    bot: Bot | None = data.get("bot")
    if identity is not None and identity.chat_id is not None and t is not None and bot:
        try:
            await bot.send_message(identity.chat_id, t("errors.internal"))
        except Exception:
            log.exception("could not tell user about the failure")
    return True


def build_app(
    settings: Settings,
    *,
    session: BaseSession | None = None,
    max_session: BaseSession | None = None,
    clock: Clock | None = None,
    crm: SqlCrm | None = None,
    storage: BaseStorage | None = None,
    replica_state: ReplicaState | None = None,
    health_checks: dict[str, HealthCheck] | None = None,
    notifier_factory: Callable[[Messengers, SqlCrm], Notifier],
    **services: Any,
) -> App:
    """Everything a process needs; `health_checks` come from other components (e.g. "chroma",
    "scheduler_leader"), the database and Redis checks are added here. MAX joins when its
    token is set or `max_session` is given; every process that may send (a replica leading the
    scheduler) has the bots of every configured messenger, whichever it receives updates on."""
    clock = clock or SystemClock()
    crm = crm or SqlCrm.from_url(
        settings.database.url,
        echo=settings.database.echo,
        secure_delete=settings.database.sqlite_secure_delete,
    )
    catalog = Catalog.shared()
    # Redis when REDIS_URL is set, so conversations, dedupe and throttling span replicas.
    replica_state = replica_state or build_replica_state(settings)
    metrics = Metrics()
    bot = create_bot(settings, session=session)
    max_bot = create_max_bot(settings, session=max_session)
    # Only messengers this process can really reach: without a token (or a console or test
    # session) Telegram's bot holds a placeholder token and must not be sent through.
    reachable = [bot] if session is not None or settings.telegram.bot_token else []
    messengers = Messengers.of(*reachable, *([max_bot] if max_bot is not None else []))
    for each in messengers.values():
        each.session.middleware(ApiMetricsRequestMiddleware(metrics))
        each.session.middleware(InteractionLogRequestMiddleware(crm, clock))
    # Chosen by the caller and never defaulted: every process queues through the outbox
    # (contact policy, rate limits; see `cli.assembly`), tests may send directly.
    notifier = notifier_factory(messengers, crm)
    # Validated here so a broken catalogue file stops start-up instead of a client's request.
    services.setdefault("service_catalogue", load_catalogue())
    # An erasure forgets the person's conversation state where this process keeps it.
    services.setdefault(
        "conversation_memory",
        ConversationEraser(
            storage=storage or replica_state.storage,
            redis=replica_state.redis,
            prefix=settings.redis.key_prefix,
            throttle=replica_state.throttle,
        ),
    )
    dispatcher = create_dispatcher(
        settings,
        crm=crm,
        clock=clock,
        catalog=catalog,
        notifier=notifier,
        storage=storage or replica_state.storage,
        events_isolation=replica_state.events_isolation,
        throttle=replica_state.throttle,
        dedupe=replica_state.dedupe,
        metrics=metrics,
        messengers=messengers,
        **services,
    )
    checks: dict[str, HealthCheck] = {"database": database_check(crm.engine)}
    if replica_state.redis is not None:
        checks["redis"] = redis_check(replica_state.redis)
    checks.update(health_checks or {})
    health = Health(checks, timeout_seconds=settings.observability.check_timeout_seconds)
    return App(
        settings,
        crm,
        clock,
        catalog,
        bot,
        dispatcher,
        notifier,
        dict(services),
        metrics=metrics,
        health=health,
        replica_state=replica_state,
        messengers=messengers,
    )
