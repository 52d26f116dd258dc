"""Rows of the listed part of the demo bank: a client's record, facts and planned meeting, a
service request with its comments, an event with its invitations.

Pure: the loader decides what is new, flushes for ids and adds these rows to the session.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_adapter import models as m
from crm_adapter.demo.history import ClientHistory, at_local, seeded
from crm_adapter.demo.spec import ClientSpec, EventSpec, RequestSpec


def local_today(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def birthday(on: date, age: int) -> date:
    """The birth date of someone turning `age` on the day `on` (29 February handled)."""
    year = on.year - age
    if on.month == 2 and on.day == 29:
        while not calendar.isleap(year):
            year -= 1
    return on.replace(year=year)


def client_row(
    spec: ClientSpec, history: ClientHistory, *, groups: Mapping[str, int]
) -> m.ClientRow:
    rng = seeded(history.seed, spec.external_id, "profile")
    today = local_today(history.now, spec.timezone)
    age = rng.randint(34, 71)
    offsets = {"birthday_0": 0, "birthday_2": 2, "birthday_5": 5}
    offset = next((d for t, d in offsets.items() if t in spec.traits), None)
    if offset is None:
        # Everybody else celebrates well outside the coming week.
        offset = rng.randint(10, 355)
    client_since = history.today - timedelta(days=spec.client_for.total_days)
    manager_since, previous = client_since, None
    if spec.manager_change:
        manager_since = history.today - timedelta(days=spec.manager_change.days_ago)
        previous = history.staff[spec.manager_change.previous]
    return m.ClientRow(
        external_id=spec.external_id,
        first_name=spec.first_name,
        middle_name=spec.middle_name,
        last_name=spec.last_name,
        birthday=birthday(today + timedelta(days=offset), age),
        gender=spec.gender,
        city=spec.city,
        timezone=spec.timezone,
        language=spec.language,
        preferred_channel=spec.preferred_channel,
        quiet_start=time(spec.quiet_hours[0], 0),
        quiet_end=time(spec.quiet_hours[1], 0),
        do_not_disturb=spec.do_not_disturb,
        marketing_opt_out=spec.marketing_opt_out,
        financial_segment=spec.financial_segment,
        values_segment=spec.values_segment,
        occupation=spec.occupation,
        is_public_person=spec.public_person,
        opinion_leader=spec.opinion_leader,
        decision_influencer=spec.decision_influencer,
        what_matters=spec.what_matters,
        manager_id=history.staff[spec.manager],
        previous_manager_id=previous,
        manager_since=manager_since,
        holding_group_id=groups[spec.holding_group] if spec.holding_group else None,
        client_since=client_since,
    )


def facts(spec: ClientSpec, client_id: int, history: ClientHistory) -> list[m.Base]:
    """Life events, managers' notes and NPS answers."""
    now = history.now
    rows: list[m.Base] = [
        m.LifeEventRow(
            client_id=client_id,
            kind=event.kind,
            happened_on=history.today + timedelta(days=event.happens_in_days),
            description=event.description,
            recorded_at=now - timedelta(days=event.recorded_days_ago),
        )
        for event in spec.life_events
    ]
    for note in spec.notes:
        created = now - timedelta(days=note.days_ago, hours=2)
        rows.append(
            m.NoteRow(
                client_id=client_id,
                author_id=history.manager_on(spec, created.date()),
                created_at=created,
                text=note.text,
                kind=note.kind,
            )
        )
    rows += [
        m.FeedbackRow(
            client_id=client_id,
            kind="nps",
            score=nps.score,
            comment=nps.comment,
            created_at=now - timedelta(days=nps.days_ago, hours=5),
        )
        for nps in spec.nps
    ]
    return rows


def upcoming_meeting(
    spec: ClientSpec, client_id: int, history: ClientHistory
) -> list[m.MeetingRow]:
    meeting, now = spec.upcoming_meeting, history.now
    if meeting is None:
        return []
    if meeting.days_ahead == 0:
        soon = now + timedelta(hours=2)
        starts = soon.replace(minute=soon.minute - soon.minute % 15, second=0, microsecond=0)
    else:
        day = local_today(now, spec.timezone) + timedelta(days=meeting.days_ahead)
        starts = at_local(day, meeting.hour, meeting.minute, spec.timezone)
    return [
        m.MeetingRow(
            client_id=client_id,
            manager_id=history.staff[spec.manager],
            starts_at=starts,
            place=meeting.place,
            topic=meeting.topic,
            status="planned",
            created_at=now - timedelta(days=3),
        )
    ]


def request_row(
    request: RequestSpec, client_id: int, *, now: datetime, assignee_id: int
) -> m.ServiceRequestRow:
    created = now - timedelta(minutes=request.created_minutes_ago)
    resolved = request.status == "resolved"
    acked = request.status in ("accepted", "resolved")
    return m.ServiceRequestRow(
        client_id=client_id,
        service_code=request.service,
        status=request.status,
        urgent=request.urgent,
        summary=request.summary,
        details=request.details,
        assignee_id=assignee_id if acked else None,
        created_at=created,
        ack_due_at=created + timedelta(minutes=5 if request.urgent else 30),
        resolve_due_at=created + timedelta(hours=request.resolve_hours),
        acknowledged_at=created + timedelta(minutes=3) if acked else None,
        resolved_at=created + timedelta(hours=request.resolve_hours * 0.8) if resolved else None,
        closed_at=created + timedelta(hours=request.resolve_hours) if resolved else None,
    )


def request_followups(request: RequestSpec, row: m.ServiceRequestRow) -> list[m.Base]:
    """The comments on a stored request and the client's rating of it."""
    rows: list[m.Base] = [
        m.RequestCommentRow(
            request_id=row.id,
            author_kind=comment.author,
            author_staff_id=row.assignee_id if comment.author == "staff" else None,
            text=comment.text,
            created_at=row.created_at + timedelta(minutes=comment.minutes_after),
        )
        for comment in request.comments
    ]
    if request.rating and row.closed_at:
        rows.append(
            m.FeedbackRow(
                client_id=row.client_id,
                kind="request",
                subject_id=row.id,
                score=request.rating.score,
                comment=request.rating.comment,
                created_at=row.closed_at + timedelta(minutes=20),
            )
        )
    return rows


def event_row(spec: EventSpec, *, now: datetime, coordinator_id: int) -> m.EventRow:
    day = local_today(now, spec.timezone) + timedelta(days=spec.days_from_today)
    starts = at_local(day, spec.hour, 0, spec.timezone)
    return m.EventRow(
        title=spec.title,
        description=spec.description,
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
        timezone=spec.timezone,
        venue=spec.venue,
        city=spec.city,
        capacity=spec.capacity,
        plus_ones_allowed=spec.plus_ones,
        rsvp_deadline=starts - timedelta(days=spec.rsvp_days_before),
        audience=spec.audience,
        status=spec.status,
        coordinator_id=coordinator_id,
        created_at=min(now, starts) - timedelta(days=30),
    )


def invitation_rows(
    spec: EventSpec, event: m.EventRow, *, seed: int, clients: Mapping[str, int]
) -> list[m.Base]:
    """The stored event's invitations as answered, and ratings from some who came."""
    rng = seeded(seed, "event", spec.title)
    sent = event.starts_at - timedelta(days=spec.rsvp_days_before + 5)
    rows: list[m.Base] = []
    for ext, status in spec.invitations.items():
        answered = status not in ("planned", "sent")
        checked_in = status == "checked_in"
        rows.append(
            m.InvitationRow(
                event_id=event.id,
                client_id=clients[ext],
                status=status,
                plus_one=spec.plus_ones and status == "accepted" and rng.random() < 0.5,
                sent_at=sent,
                answered_at=sent + timedelta(hours=rng.randint(2, 72)) if answered else None,
                checked_in_at=event.starts_at + timedelta(minutes=rng.randint(0, 20))
                if checked_in
                else None,
            )
        )
        if checked_in and rng.random() < 0.7:
            rows.append(
                m.FeedbackRow(
                    client_id=clients[ext],
                    kind="event",
                    subject_id=event.id,
                    score=rng.choice((4, 5, 5)),
                    comment=rng.choice((None, "Очень полезно, спасибо.", "Прекрасный вечер.")),
                    created_at=event.ends_at + timedelta(hours=rng.randint(12, 48)),
                )
            )
    return rows
