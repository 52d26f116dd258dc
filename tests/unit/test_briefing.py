"""The meeting brief for a crafted client, with product facts cited through a fake port."""

from __future__ import annotations

from decimal import Decimal

from common.i18n import Catalog
from concierge.briefing import Fact, build_briefing
from concierge.briefing_render import render, to_dict
from concierge.insights.analysis import analyse
from concierge.insights.rules import default_rules
from concierge.profile import ClientProfile
from crm_adapter.workspace import MeetingView
from tests.unit.insight_fixtures import (
    details,
    holding,
    life_event,
    make_client,
    meeting,
    note,
    profile,
    request,
    tx,
)


class FakeFacts:
    """Stands in for the knowledge base: fixed facts per product family, calls recorded."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def facts(self, family: str, *, language: str) -> list[Fact]:
        self.asked.append((family, language))
        return [
            Fact(
                text=f"{family}: fact one",
                doc_id=f"{family}-terms",
                title=f"{family.title()} terms",
                section="2.1",
            ),
            Fact(text=f"{family}: fact two", doc_id=f"{family}-faq", title="FAQ", section=None),
            Fact(text="never shown: only two per offer", doc_id="x", title="x"),
        ]


def crafted() -> tuple[ClientProfile, MeetingView]:
    last = meeting(-40, status="held")
    p = profile(
        client=make_client(birthday=tx(-5).occurred_at.date().replace(year=1970)),
        details=details(
            what_matters="надёжность и конфиденциальность", decision_influencer="супруга"
        ),
        holdings=[
            holding("deposit", 30_000_000, name="Вклад «Капитал»"),
            holding(
                "savings", 500_000, name="Накопительный счёт", opened_on=tx(30).occurred_at.date()
            ),
        ],
        transactions=[tx(20, 12_000_000, "transfer")],
        life_events=[
            life_event("child_abroad", "сын поступил в университет в Цюрихе", days_ago=20)
        ],
        notes=[
            note("интересуется альтернативными инвестициями", kind="interest"),
            note("любит встречи утром; <b>не</b> звонить по пятницам"),
        ],
        open_requests=[request("Доставка наличных в офис")],
        meetings=[last, meeting(0.1)],
    )
    return p, last


def test_brief_covers_every_section_and_cites_facts() -> None:
    p, last = crafted()
    facts = FakeFacts()
    catalog = Catalog.load()
    brief = build_briefing(p, analyse(p, default_rules()), language="en", facts=facts)

    assert brief.since == last.starts_at and brief.since_meeting
    assert brief.meeting is not None and brief.meeting.topic == "Обзор портфеля"
    assert {c.code for c in brief.changes} >= {
        "new_product",
        "life_event",
        "large_incoming",
        "new_request",
    }
    assert {o.opportunity.code for o in brief.offers} == {
        "invest_deposits",
        "insure_family",
        "place_idle_funds",
    }
    # Facts are fetched once per product family, at most two per offer.
    assert sorted(facts.asked) == [("insurance", "en"), ("investments", "en")]
    assert all(len(o.facts) == 2 for o in brief.offers)

    text = render(brief, catalog)
    assert "Briefing: Волков Иван Петрович" in text
    assert "What changed since the last meeting" in text
    assert "Request #" in text and "Доставка наличных в офис" in text
    assert "investments: fact one [Investments terms, 2.1]" in text
    assert "never shown" not in text
    assert "follow up on the interest: интересуется альтернативными инвестициями" in text
    assert "ask how it is going: сын поступил" in text
    assert "birthday on" in text
    assert "decisions are influenced by: супруга" in text
    # A manager's note is data, not markup: escaped in HTML, verbatim in Markdown.
    assert "&lt;b&gt;не&lt;/b&gt;" in text

    markdown = render(brief, catalog, markdown=True)
    assert markdown.startswith("# Briefing: Волков Иван Петрович")
    assert "## Suggested talking points" in markdown
    assert "<b>не</b> звонить" in markdown
    assert brief.file_name == "briefing-C-0001-2026-11-22.md"


def test_brief_without_knowledge_base_still_works_in_russian() -> None:
    p, _ = crafted()
    brief = build_briefing(p, analyse(p, default_rules()), language="ru")
    assert all(o.facts == () for o in brief.offers)
    text = render(brief, Catalog.load())
    assert "Что изменилось с прошлой встречи" in text and "О чём поговорить" in text
    data = to_dict(brief)
    assert data["client"]["external_id"] == "C-0001"
    assert Decimal(data["value"]["potential_rub"]) > 0
    assert data["offers"][0]["facts"] == []


def test_client_name_escaped_once_in_the_title() -> None:
    p = profile(client=make_client(last_name="Смит & Co"), holdings=[holding("savings", 1)])
    html_text = render(build_briefing(p, analyse(p), language="en"), Catalog.load())
    assert html_text.startswith("<b>Briefing: Смит &amp; Co Иван Петрович</b>")


def test_brief_without_previous_meeting_looks_back_90_days() -> None:
    p = profile(holdings=[holding("premium_card", 100_000)])
    brief = build_briefing(p, analyse(p), language="en")
    assert not brief.since_meeting
    text = render(brief, Catalog.load())
    assert "Over the last 90 days" in text and "nothing notable" in text
