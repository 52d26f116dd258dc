"""The master CRM that `CRM_BACKEND` names, built from settings (None for `local`)."""

from __future__ import annotations

from common.settings import CrmSettings
from crm_adapter.master.bitrix24.adapter import Bitrix24Crm
from crm_adapter.master.bitrix24.rest import Bitrix24Rest
from crm_adapter.master.port import MasterCrm
from crm_adapter.master.state import SqlTokenStore
from crm_adapter.master.webhook import WebhookCrm
from crm_adapter.sql import SqlCrm


class CrmNotConfigured(Exception):
    """CRM_BACKEND names a CRM whose settings are missing (the message says which)."""


def build_master_crm(
    settings: CrmSettings, *, crm: SqlCrm, language: str = "ru"
) -> MasterCrm | None:
    if settings.backend == "local":
        return None
    if settings.backend == "webhook":
        if not settings.webhook_url or settings.webhook_secret is None:
            raise CrmNotConfigured(
                "CRM_BACKEND=webhook needs CRM_WEBHOOK_URL and CRM_WEBHOOK_SECRET"
            )
        return WebhookCrm(
            settings.webhook_url,
            settings.webhook_secret.get_secret_value(),
            timeout_seconds=settings.webhook_timeout_seconds,
        )
    webhook = settings.bitrix24_webhook_url
    if webhook is None and not (
        settings.bitrix24_portal_url
        and settings.bitrix24_client_id
        and settings.bitrix24_client_secret is not None
    ):
        raise CrmNotConfigured(
            "CRM_BACKEND=bitrix24 needs CRM_BITRIX24_WEBHOOK_URL, or CRM_BITRIX24_PORTAL_URL"
            " with CRM_BITRIX24_CLIENT_ID and CRM_BITRIX24_CLIENT_SECRET"
        )
    secret = settings.bitrix24_client_secret
    refresh = settings.bitrix24_refresh_token
    rest = Bitrix24Rest(
        webhook_url=webhook.get_secret_value() if webhook is not None else None,
        portal_url=settings.bitrix24_portal_url,
        client_id=settings.bitrix24_client_id,
        client_secret=secret.get_secret_value() if secret is not None else None,
        refresh_token=refresh.get_secret_value() if refresh is not None else None,
        oauth_url=settings.bitrix24_oauth_url,
        tokens=SqlTokenStore(crm.engine),
        requests_per_second=settings.bitrix24_requests_per_second,
        timeout_seconds=settings.bitrix24_timeout_seconds,
    )
    return Bitrix24Crm(
        rest,
        holdings_entity_type_id=settings.bitrix24_holdings_entity_type_id,
        life_events_entity_type_id=settings.bitrix24_life_events_entity_type_id,
        deal_category_id=settings.bitrix24_deal_category_id,
        language=language,
    )
