"""Ratings of resolved requests and the quarterly NPS question; low scores alert the manager."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from common.clock import Clock
from common.sensitive import mask
from concierge.actions import Action, Actions, arrange
from concierge.notify import Notifier, Outgoing
from concierge.request_access import Desk, Refusal, RequestRefused, for_client, refuse
from crm_adapter.dto import Client, Feedback, RequestStatus
from crm_adapter.port import UnitOfWork

LOW_RATING = 3  # a rating of 3 or less out of 5 needs the manager's attention
LOW_NPS = 6  # detractors in NPS terms: 0-6


def quarter_of(now: datetime, timezone: str = "Europe/Moscow") -> str:
    local = now.astimezone(ZoneInfo(timezone))
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


async def _alert_manager(
    uow: UnitOfWork, desk: Desk, client: Client, key: str, **params: object
) -> None:
    if client.manager_id is None:
        return
    manager = await uow.staff.get(client.manager_id)
    if manager is None:
        return
    text = desk.t(manager.language)(key, client=client.full_name, **params)
    await desk.notifier.to_staff(manager.id, Outgoing(text=text, kind="feedback_alert"))


async def rate_request(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    client: Client,
    request_id: int,
    score: int,
) -> Feedback:
    """One rating per resolved request of the client's own."""
    desk = Desk.of(notifier, clock)
    request = await for_client(
        uow, desk, client=client, request_id=request_id, action="rate", open_only=False
    )
    reason: Refusal | None = None
    if request.status is not RequestStatus.RESOLVED or not 1 <= score <= 5:
        reason = Refusal.NOT_RESOLVED
    elif await uow.feedback.find(client_id=client.id, kind="request", subject_id=request_id):
        reason = Refusal.ALREADY
    if reason is not None:
        raise await refuse(
            uow,
            desk,
            reason,
            request_id,
            action="rate",
            client_id=client.id,
            subject_client_id=client.id,
        )
    feedback = await uow.feedback.add(
        client_id=client.id, kind="request", subject_id=request_id, score=score, now=clock.now()
    )
    if score <= LOW_RATING:
        await _alert_manager(uow, desk, client, "feedback.low_rating", id=request_id, score=score)
    return feedback


async def comment_feedback(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    client: Client,
    feedback_id: int,
    comment: str,
) -> Feedback:
    """Adds the optional comment to the client's own rating; a low one reaches the manager."""
    feedback = await uow.feedback.get(feedback_id)
    if feedback is None or feedback.client_id != client.id:
        await uow.audit.record(
            now=clock.now(),
            action="feedback_comment",
            outcome="denied",
            actor_client_id=client.id,
            details={"feedback_id": feedback_id},
        )
        raise RequestRefused(Refusal.NOT_YOURS, feedback_id)
    # The manager reads it as it is stored: card, document and phone numbers masked.
    comment = mask(comment).text
    await uow.feedback.set_comment(feedback_id, comment)
    low = feedback.score <= (LOW_NPS if feedback.kind == "nps" else LOW_RATING)
    if low:
        await _alert_manager(
            uow, Desk.of(notifier, clock), client, "feedback.low_comment", comment=comment
        )
    return feedback.model_copy(update={"comment": comment})


def nps_actions(period: str) -> Actions:
    """Scores 0 to 10 in two rows, as the NPS question is usually shown."""
    return arrange(
        (Action.of(str(score), "nps", period=period, score=score) for score in range(11)), 6, 5
    )


async def ask_nps(uow: UnitOfWork, notifier: Notifier, clock: Clock, *, client: Client) -> bool:
    """Puts the NPS question unless it was put this quarter; True when asked now.

    Safe to call from a daily job for every client: the survey row is the once-per-quarter
    claim, so repeated runs and restarts never ask twice.
    """
    if client.do_not_disturb or client.out_of_service:
        return False
    period = quarter_of(clock.now(), client.timezone)
    if not await uow.feedback.claim_survey(
        client_id=client.id, kind="nps", period=period, now=clock.now()
    ):
        return False
    t = Desk.of(notifier, clock).t(client.language)
    # The claim is made durable before sending: a crash afterwards skips a quarter's question
    # rather than asking twice (and on SQLite the notifier's log must not wait behind it).
    await uow.commit()
    return await notifier.to_client(
        client.id,
        Outgoing(
            text=t("feedback.nps_question"),
            actions=nps_actions(period),
            occasion_key=f"nps:{period}:client:{client.id}",
            kind="survey",
        ),
    )


async def record_nps(
    uow: UnitOfWork, notifier: Notifier, clock: Clock, *, client: Client, period: str, score: int
) -> Feedback:
    """Stores the answer once; a survey never asked (a forged button) is refused."""
    now = clock.now()
    if not 0 <= score <= 10 or not await uow.feedback.answer_survey(
        client_id=client.id, kind="nps", period=period, now=now
    ):
        await uow.audit.record(
            now=now,
            action="nps_answer",
            outcome="denied",
            actor_client_id=client.id,
            details={"period": period[:16], "score": score},
        )
        raise RequestRefused(Refusal.ALREADY, 0)
    year, quarter = period.split("Q")
    feedback = await uow.feedback.add(
        client_id=client.id,
        kind="nps",
        subject_id=int(year) * 10 + int(quarter),
        score=score,
        now=now,
    )
    if score <= LOW_NPS:
        await _alert_manager(
            uow, Desk.of(notifier, clock), client, "feedback.low_nps", score=score
        )
    return feedback


async def ask_nps_round(uow: UnitOfWork, notifier: Notifier, clock: Clock) -> int:
    """The scheduler's daily NPS job: every consenting client not yet asked this quarter.

    Returns how many were asked. `ask_nps` commits each claim, so the job may stop and
    resume at any point without asking anyone twice.
    """
    asked = 0
    for client in await uow.clients.all():
        consent = await uow.consents.current(client.id)
        if consent is not None and consent.active:
            asked += await ask_nps(uow, notifier, clock, client=client)
    return asked
