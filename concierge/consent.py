"""Consent to personal-data processing (152-FZ): asked separately, recorded, withdrawable."""

from __future__ import annotations

from common.clock import Clock
from crm_adapter.dto import Consent
from crm_adapter.port import PeopleUnit


async def record_consent(
    uow: PeopleUnit,
    *,
    clock: Clock,
    client_id: int,
    granted: bool,
    document_version: str,
    channel: str = "messenger",
) -> Consent:
    """Stores the client's answer as a new record; history is kept, never overwritten."""
    consent = await uow.consents.record(
        client_id=client_id,
        granted=granted,
        document_version=document_version,
        channel=channel,
        now=clock.now(),
    )
    await uow.audit.record(
        now=clock.now(),
        action="consent_granted" if granted else "consent_declined",
        actor_client_id=client_id,
        subject_client_id=client_id,
        details={"version": document_version, "channel": channel},
    )
    return consent


async def withdraw_consent(uow: PeopleUnit, *, clock: Clock, client_id: int) -> None:
    await uow.consents.withdraw(client_id, now=clock.now())
    await uow.audit.record(
        now=clock.now(),
        action="consent_withdrawn",
        actor_client_id=client_id,
        subject_client_id=client_id,
    )
