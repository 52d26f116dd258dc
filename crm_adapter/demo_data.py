"""Demo data: a fictional Russian private bank, loaded idempotently and always looking current.

`load_demo_data` creates the staff of «Белая Гавань Private» (four personal managers paired as
each other's backups, an event coordinator, an admin and a duty desk officer), 32 VIP clients
with products, twelve months of transactions and interactions, life events, notes, feedback,
holding groups, meetings, closed events with invitations and service requests.

Idempotency: staff and clients are keyed on `external_id`, holding groups on their name,
members on (group, name), events on their title. A client's history (holdings, transactions,
interactions, notes, meetings, requests ...) is only created together with the client, all in
one transaction, so a second run finds everything in place and creates nothing.

Determinism: every random choice comes from `random.Random` seeded from `seed` and the
client's external id, and every date is relative to `clock.now()`, so the bank always looks
current (birthdays this week, deposits maturing soon, a meeting in two hours).

Conventions other features can rely on:
- `credit_line` holdings carry the drawn debt as a negative balance;
- `event.audience` uses the keys `values_segments`, `financial_segments` and `cities`
  (city names as stored on the client, e.g. "Москва");
- interactions of the demo history have no `update_id` and no `chat_id`;
- the duty desk works 21:00-09:00 (its `work_end` is before its `work_start`).
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm

MSK = "Europe/Moscow"
YEKT = "Asia/Yekaterinburg"
NOVT = "Asia/Novosibirsk"
DXB = "Asia/Dubai"

INVESTMENT_PRODUCTS = frozenset({"brokerage", "trust", "mutual_fund", "structured", "alternative"})
INSURANCE_PRODUCTS = frozenset({"insurance_life", "insurance_property", "insurance_travel"})


@dataclass(frozen=True)
class DemoSummary:
    """How many rows of each kind exist after loading, and how many this run created."""

    staff: int
    clients: int
    holdings: int
    transactions: int
    interactions: int
    life_events: int
    notes: int
    feedback: int
    holding_groups: int
    holding_members: int
    meetings: int
    events: int
    invitations: int
    service_requests: int
    request_comments: int
    created: int


@dataclass(frozen=True)
class DemoPersona:
    """A well-described person of the demo bank, for the README and the console."""

    external_id: str
    kind: str  # client | staff
    title: str
    description: str


DEMO_PERSONAS: tuple[DemoPersona, ...] = (
    DemoPersona(
        "C-0001",
        "client",
        "Клиент под угрозой ухода",
        "Громов Виктор Павлович: клиент 12 лет, два месяца назад сменился менеджер, с тех пор "
        "ни одного контакта, активность по счетам упала, не ответил на приглашения, низкий NPS.",
    ),
    DemoPersona(
        "C-0002",
        "client",
        "Клиент с нереализованным потенциалом",
        "Воронцова Алина Сергеевна: крупный вклад без инвестиций и страховки, вчера поступили "
        "15 млн ₽, интересуется альтернативными инвестициями, встреча с менеджером через 2 часа.",
    ),
    DemoPersona(
        "C-0003",
        "client",
        "День рождения сегодня",
        "Левин Михаил Аркадьевич: активный инвестор, социально активный, сегодня день рождения.",
    ),
    DemoPersona(
        "C-0004",
        "client",
        "Англоязычный клиент в Дубае",
        "Шестаков Артём Игоревич: живёт в Дубае (Asia/Dubai), язык общения английский, "
        "открытая заявка на конвертацию валюты.",
    ),
    DemoPersona(
        "C-0005",
        "client",
        "Владелец холдинга",
        "Ветров Сергей Николаевич: кредитная линия, группа «Северный альянс» с убыточной "
        "компанией, планирует передать бизнес сыну; встреча завтра.",
    ),
    DemoPersona(
        "S-0001",
        "staff",
        "Персональный менеджер",
        "Соколов Андрей Викторович: ведёт клиентов C-0001, C-0002, C-0003; его дублёр S-0002.",
    ),
    DemoPersona(
        "S-0002",
        "staff",
        "Менеджер-дублёр",
        "Орлова Марина Игоревна: дублёр S-0001 и прежний менеджер клиента C-0001.",
    ),
    DemoPersona(
        "S-0005",
        "staff",
        "Координатор мероприятий",
        "Лебедева Анна Сергеевна: ужин с шеф-поваром, встреча с экономистом, гольф, Эрмитаж.",
    ),
    DemoPersona("S-0006", "staff", "Администратор", "Зайцев Павел Николаевич: видит всё."),
    DemoPersona("S-0007", "staff", "Дежурная служба", "Никитин Олег Романович: ночные смены."),
)


# --- staff -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StaffSpec:
    ext: str
    full_name: str
    roles: str
    email: str
    phone: str
    backup: str | None = None
    timezone: str = MSK
    start: time = time(9, 0)
    end: time = time(19, 0)


_STAFF: tuple[_StaffSpec, ...] = (
    _StaffSpec(
        "S-0001",
        "Соколов Андрей Викторович",
        "manager",
        "a.sokolov@belayagavan.example",
        "+7 495 555-01-01",
        backup="S-0002",
    ),
    _StaffSpec(
        "S-0002",
        "Орлова Марина Игоревна",
        "manager",
        "m.orlova@belayagavan.example",
        "+7 495 555-01-02",
        backup="S-0001",
        start=time(10, 0),
        end=time(20, 0),
    ),
    _StaffSpec(
        "S-0003",
        "Белов Дмитрий Алексеевич",
        "manager",
        "d.belov@belayagavan.example",
        "+7 343 555-01-03",
        backup="S-0004",
        timezone=YEKT,
        start=time(8, 0),
        end=time(18, 0),
    ),
    _StaffSpec(
        "S-0004",
        "Кузнецова Екатерина Олеговна",
        "manager",
        "e.kuznetsova@belayagavan.example",
        "+7 495 555-01-04",
        backup="S-0003",
    ),
    _StaffSpec(
        "S-0005",
        "Лебедева Анна Сергеевна",
        "coordinator",
        "a.lebedeva@belayagavan.example",
        "+7 495 555-01-05",
        start=time(10, 0),
        end=time(19, 0),
    ),
    _StaffSpec(
        "S-0006",
        "Зайцев Павел Николаевич",
        "admin",
        "p.zaitsev@belayagavan.example",
        "+7 495 555-01-06",
    ),
    _StaffSpec(
        "S-0007",
        "Никитин Олег Романович",
        "duty",
        "duty@belayagavan.example",
        "+7 495 555-01-00",
        start=time(21, 0),
        end=time(9, 0),
    ),
)


# --- clients -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClientSpec:
    ext: str
    first: str
    middle: str
    last: str
    gender: str
    city: str
    fin: str
    values: str
    occupation: str
    manager: str
    since_days: int
    timezone: str = MSK
    lang: str = "ru"
    channel: str = "messenger"
    influencer: str | None = None
    matters: str | None = None
    public: bool = False
    leader: bool = False
    dnd: bool = False
    opt_out: bool = False
    quiet: tuple[int, int] = (22, 9)
    group: str | None = None
    # churn | at_risk | potential | birthday_0 | birthday_2 | birthday_5 | deposit_3 |
    # deposit_14 | deposit_30 | card_expiring
    traits: frozenset[str] = frozenset()


def _t(*names: str) -> frozenset[str]:
    return frozenset(names)


GROUP_ALLIANCE = "«Северный альянс»"
GROUP_VOLGA = "«Волга Агро»"
GROUP_URALMET = "ГК «Уралмет»"

# The churn example: a client of twelve years whose manager changed 60 days ago.
CHURN_CLIENT = "C-0001"
MANAGER_CHANGE_DAYS = 60

# fmt: off
_CLIENTS: tuple[_ClientSpec, ...] = (
    _ClientSpec(
        "C-0001", "Виктор", "Павлович", "Громов", "m", "Москва", "stable_keeper", "conservative",
        "Владелец сети строительных гипермаркетов", "S-0001", 12 * 365 + 40,
        channel="phone", influencer="Советуется с супругой, Ларисой Андреевной",
        matters="Личные отношения с менеджером, надёжность", traits=_t("churn", "at_risk"),
    ),
    _ClientSpec(
        "C-0002", "Алина", "Сергеевна", "Воронцова", "f", "Москва", "stable_keeper",
        "technophile", "Сооснователь IT-компании, недавно продала долю в бизнесе", "S-0001",
        4 * 365 + 100, matters="Скорость и цифровые сервисы, без лишних звонков",
        traits=_t("potential"),
    ),
    _ClientSpec(
        "C-0003", "Михаил", "Аркадьевич", "Левин", "m", "Москва", "active_investor",
        "socially_active", "Управляющий партнёр инвестиционной компании", "S-0001",
        7 * 365 + 12, matters="Доступ к закрытым сделкам и сообществу",
        traits=_t("birthday_0"),
    ),
    _ClientSpec(
        "C-0004", "Артём", "Игоревич", "Шестаков", "m", "Дубай", "active_investor",
        "technophile", "Предприниматель, логистическая компания в ОАЭ", "S-0002",
        5 * 365 + 210, timezone=DXB, lang="en", quiet=(23, 8),
        matters="Валютные операции по льготному курсу",
    ),
    _ClientSpec(
        "C-0005", "Сергей", "Николаевич", "Ветров", "m", "Москва", "credit_dependent",
        "family_oriented", "Владелец группы «Северный альянс» (порт, лес, девелопмент)", "S-0002",
        10 * 365 + 77, channel="phone",
        influencer="Сын Никита, готовится принять управление бизнесом",
        matters="Сохранение бизнеса в семье", group=GROUP_ALLIANCE,
    ),
    _ClientSpec(
        "C-0006", "Ольга", "Викторовна", "Ветрова", "f", "Москва", "stable_keeper",
        "family_oriented", "Совладелица «Северного альянса», попечитель благотворительного фонда",
        "S-0002", 10 * 365 + 77, matters="Безопасность детей и внуков",
        group=GROUP_ALLIANCE, traits=_t("birthday_2"),
    ),
    _ClientSpec(
        "C-0007", "Ирина", "Владимировна", "Соболева", "f", "Санкт-Петербург", "active_investor",
        "conservative", "Главный врач частной клиники", "S-0004", 6 * 365 + 3,
        channel="email", matters="Консервативная доходность, никаких сюрпризов",
        traits=_t("deposit_3"),
    ),
    _ClientSpec(
        "C-0008", "Рустам", "Ильдарович", "Камалов", "m", "Казань", "credit_dependent",
        "family_oriented", "Владелец агрохолдинга «Волга Агро»", "S-0004", 9 * 365 + 150,
        channel="phone", influencer="Прислушивается к дочери Алсу (финансовый директор)",
        group=GROUP_VOLGA,
    ),
    _ClientSpec(
        "C-0009", "Алсу", "Рустамовна", "Камалова", "f", "Казань", "active_investor",
        "technophile", "Финансовый директор агрохолдинга «Волга Агро»", "S-0004", 3 * 365 + 20,
        group=GROUP_VOLGA,
    ),
    _ClientSpec(
        "C-0010", "Николай", "Степанович", "Зуев", "m", "Екатеринбург", "low_engagement",
        "conservative", "Бывший генеральный директор металлургического завода, на пенсии",
        "S-0003", 8 * 365 + 300, timezone=YEKT, channel="phone", dnd=True, quiet=(21, 10),
        traits=_t("at_risk"),
    ),
    _ClientSpec(
        "C-0011", "Татьяна", "Андреевна", "Миронова", "f", "Санкт-Петербург", "stable_keeper",
        "family_oriented", "Владелица сети аптек, наследница семейного бизнеса", "S-0004",
        5 * 365 + 66, influencer="Решения по капиталу принимает вместе с братом",
        traits=_t("potential", "deposit_30"),
    ),
    _ClientSpec(
        "C-0012", "Андрей", "Владимирович", "Крылов", "m", "Москва", "active_investor",
        "socially_active", "Вице-президент нефтегазовой компании", "S-0001", 6 * 365 + 200,
        matters="Статус и экономия времени", traits=_t("card_expiring"),
    ),
    _ClientSpec(
        "C-0013", "Евгений", "Борисович", "Чернов", "m", "Екатеринбург", "credit_dependent",
        "conservative", "Владелец ГК «Уралмет» (металлоконструкции)", "S-0003", 11 * 365 + 5,
        timezone=YEKT, channel="phone", group=GROUP_URALMET, traits=_t("deposit_14"),
    ),
    _ClientSpec(
        "C-0014", "Вера", "Константиновна", "Полякова", "f", "Москва", "low_engagement",
        "socially_active", "Актриса театра и кино", "S-0002", 3 * 365 + 140, public=True,
        opt_out=True, influencer="Решения принимает вместе со своим агентом",
        matters="Конфиденциальность", quiet=(1, 12),
    ),
    _ClientSpec(
        "C-0015", "Глеб", "Андреевич", "Смирнов", "m", "Москва", "active_investor",
        "technophile", "Автор популярного Telegram-канала об инвестициях", "S-0001",
        2 * 365 + 45, leader=True, matters="Новые инструменты и ранний доступ",
    ),
    _ClientSpec(
        "C-0016", "Лариса", "Геннадьевна", "Фомина", "f", "Сочи", "stable_keeper",
        "conservative", "Владелица отельного комплекса", "S-0004", 7 * 365 + 180,
        channel="phone", matters="Надёжность банка и личные встречи", traits=_t("potential"),
    ),
    _ClientSpec(
        "C-0017", "Константин", "Игоревич", "Баранов", "m", "Новосибирск", "credit_dependent",
        "technophile", "Основатель агротех-стартапа", "S-0003", 4 * 365 + 90, timezone=NOVT,
        matters="Скорость решений по кредиту", traits=_t("at_risk"),
    ),
    _ClientSpec(
        "C-0018", "Дмитрий", "Олегович", "Рябов", "m", "Москва", "active_investor",
        "technophile", "Партнёр венчурного фонда", "S-0002", 3 * 365 + 250, lang="en",
        matters="Глобальные рынки, отчёты на английском",
    ),
    _ClientSpec(
        "C-0019", "Марина", "Юрьевна", "Тихонова", "f", "Москва", "stable_keeper",
        "family_oriented", "Совладелица сети частных школ", "S-0001", 9 * 365 + 30,
        influencer="Советуется с мужем и старшей дочерью", matters="Будущее внуков",
        traits=_t("birthday_5"),
    ),
    _ClientSpec(
        "C-0020", "Анатолий", "Петрович", "Гусев", "m", "Нижний Новгород", "stable_keeper",
        "conservative", "Владелец завода упаковки", "S-0003", 13 * 365 + 11, channel="phone",
        quiet=(21, 9),
    ),
    _ClientSpec(
        "C-0021", "Екатерина", "Дмитриевна", "Лаврова", "f", "Москва", "active_investor",
        "socially_active", "Управляющий директор международной консалтинговой компании",
        "S-0002", 5 * 365 + 160, traits=_t("deposit_30", "card_expiring"),
    ),
    _ClientSpec(
        "C-0022", "Роман", "Валерьевич", "Осипов", "m", "Краснодар", "credit_dependent",
        "family_oriented", "Владелец сети автосалонов", "S-0004", 6 * 365 + 95,
        matters="Гибкость кредитных условий",
    ),
    _ClientSpec(
        "C-0023", "Светлана", "Игоревна", "Жукова", "f", "Екатеринбург", "stable_keeper",
        "family_oriented", "Собственница коммерческой недвижимости", "S-0003", 8 * 365 + 70,
        timezone=YEKT, matters="Образование детей",
    ),
    _ClientSpec(
        "C-0024", "Алексей", "Юрьевич", "Мельников", "m", "Москва", "low_engagement",
        "conservative", "Топ-менеджер государственной корпорации", "S-0002", 4 * 365 + 15,
        opt_out=True, matters="Минимум контактов, только по делу", traits=_t("potential"),
    ),
    _ClientSpec(
        "C-0025", "Наталья", "Сергеевна", "Егорова", "f", "Санкт-Петербург", "active_investor",
        "socially_active", "Галеристка, коллекционер современного искусства", "S-0004",
        5 * 365 + 222, matters="Дизайн и эстетика",
    ),
    _ClientSpec(
        "C-0026", "Павел", "Андреевич", "Дорохов", "m", "Новосибирск", "active_investor",
        "technophile", "Владелец IT-интегратора", "S-0003", 3 * 365 + 180, timezone=NOVT,
        traits=_t("card_expiring"),
    ),
    _ClientSpec(
        "C-0027", "Юлия", "Марковна", "Штерн", "f", "Москва", "low_engagement", "technophile",
        "Архитектор, живёт между Москвой и Лондоном", "S-0001", 120, lang="en",
        matters="Дизайн и удобство приложения",
    ),
    _ClientSpec(
        "C-0028", "Владимир", "Ильич", "Архипов", "m", "Москва", "stable_keeper", "conservative",
        "Профессор, член-корреспондент РАН", "S-0002", 15 * 365 + 60, channel="email",
        dnd=True, opt_out=True, matters="Не беспокоить без необходимости",
    ),
    _ClientSpec(
        "C-0029", "Кирилл", "Александрович", "Никольский", "m", "Сочи", "active_investor",
        "socially_active", "Владелец яхт-клуба", "S-0004", 4 * 365 + 300,
        matters="Эксклюзивные мероприятия",
    ),
    _ClientSpec(
        "C-0030", "Елизавета", "Романовна", "Гордеева", "f", "Казань", "low_engagement",
        "family_oriented", "Совладелица ресторанного холдинга", "S-0004", 6 * 365 + 40,
        traits=_t("at_risk"),
    ),
    _ClientSpec(
        "C-0031", "Тимур", "Русланович", "Ахмедов", "m", "Москва", "credit_dependent",
        "socially_active", "Девелопер, владелец строительной компании", "S-0001", 5 * 365 + 5,
        influencer="Деловой партнёр и юрист компании", matters="Скорость сделок",
    ),
    _ClientSpec(
        "C-0032", "Георгий", "Львович", "Ставров", "m", "Екатеринбург", "stable_keeper",
        "family_oriented", "Владелец сети горнолыжных курортов на Урале", "S-0003",
        9 * 365 + 260, timezone=YEKT, influencer="Дети: сын Лев и дочь Ника",
        matters="Преемственность семейного капитала",
    ),
)
# fmt: on

# Large incoming transfers of the last three days: amount, hours ago, description.
_BIG_INFLOWS: dict[str, tuple[int, int, str]] = {
    "C-0002": (15_000_000, 26, "Поступление от продажи доли в ООО «Облачные решения»"),
    "C-0008": (12_500_000, 50, "Дивиденды ООО «Волга Агро Трейд»"),
}

# Life events: kind, happened_on relative to today (days), recorded days ago, description.
_LIFE_EVENTS: dict[str, tuple[tuple[str, int, int, str], ...]] = {
    "C-0001": (("new_grandchild", -150, 140, "Родился внук Матвей."),),
    "C-0002": (("business_sale", -2, 1, "Продала долю в IT-компании, ждёт крупные поступления."),),
    "C-0004": (("relocation", -400, 390, "Переехал с семьёй в Дубай, ведёт бизнес в ОАЭ."),),
    "C-0005": (
        ("business_handover", 180, 30, "Планирует передать управление группой сыну Никите."),
    ),
    "C-0011": (("inheritance", -300, 290, "Вступила в наследство: доля в семейной сети аптек."),),
    "C-0015": (("marriage", -90, 85, "Женился; супруга — дизайнер интерьеров."),),
    "C-0019": (("new_grandchild", -20, 18, "Родилась внучка Софья."),),
    "C-0021": (("property_purchase", 60, 12, "Покупает квартиру на Патриарших прудах."),),
    "C-0022": (("child_abroad", -200, 195, "Сын учится в университете в Милане."),),
    "C-0023": (
        ("child_abroad", -120, 110, "Дочь поступила в магистратуру Лондонской школы экономики."),
    ),
    "C-0029": (("property_purchase", 45, 20, "Выбирает виллу на побережье в Турции."),),
    "C-0010": (("retirement", -700, 690, "Вышел на пенсию, живёт на даче под Екатеринбургом."),),
    "C-0032": (
        ("business_handover", 365, 60, "Готовит передачу курортов детям, обсуждает траст."),
    ),
}

# Manager notes: days ago, kind (note | interest | fact), text.
_NOTES: dict[str, tuple[tuple[int, str, str], ...]] = {
    "C-0001": (
        (400, "fact", "Ценит личные встречи, предпочитает звонок, а не переписку."),
        (95, "note", "Недоволен задержкой доставки наличных; обещал разобраться."),
        (70, "note", "Передаю клиента Соколову А. В. в связи с перераспределением портфелей."),
    ),
    "C-0002": (
        (
            1,
            "interest",
            "Интересуется альтернативными инвестициями: фонды недвижимости, "
            "искусство. Просила подборку до конца недели.",
        ),
        (120, "fact", "Всё решает в мессенджере, звонить только по договорённости."),
    ),
    "C-0003": ((30, "interest", "Интересуется закрытыми pre-IPO сделками."),),
    "C-0005": (
        (25, "note", "Обсуждали структуру владения перед передачей бизнеса, нужен юрист."),
        (10, "interest", "Интересуется семейным фондом и наследственным планированием."),
    ),
    "C-0009": ((40, "interest", "Интересуется структурными продуктами в юанях."),),
    "C-0012": ((15, "fact", "Часто летает, ценит fast track и бизнес-залы."),),
    "C-0016": ((50, "note", "Держит всё на вкладе, к инвестициям относится настороженно."),),
    "C-0018": ((20, "interest", "Интересуется венчурными фондами и альтернативными активами."),),
    "C-0019": ((18, "interest", "Хочет открыть накопительное страхование жизни для внучки."),),
    "C-0023": ((100, "interest", "Интересуется оплатой обучения за рубежом и стажировками."),),
    "C-0024": ((60, "fact", "Не любит частые звонки; только важное, по почте."),),
    "C-0025": (
        (35, "interest", "Интересуется инвестициями в искусство и страхованием коллекции."),
    ),
    "C-0029": ((12, "interest", "Спрашивал про турнир по гольфу и клубные мероприятия."),),
    "C-0032": (
        (55, "interest", "Интересуется трастом и передачей бизнеса следующему поколению."),
    ),
}

# NPS answers: days ago, score 1-5, comment.
_NPS: dict[str, tuple[tuple[int, int, str | None], ...]] = {
    "C-0001": ((300, 5, None), (75, 2, "Раньше меня знали лично, теперь всё формально.")),
    "C-0010": ((250, 4, None), (20, 2, "Звонят не по делу, предложения мне не подходят.")),
    "C-0017": ((200, 4, None), (15, 1, "Кредитное решение ждали три недели.")),
    "C-0030": ((180, 3, None), (25, 2, "Менеджер редко выходит на связь.")),
    "C-0003": ((40, 5, "Отличный сервис, спасибо за мероприятия."),),
    "C-0007": ((60, 4, None),),
    "C-0012": ((90, 5, None),),
    "C-0019": ((45, 5, "Всегда помогают быстро."),),
    "C-0021": ((70, 4, "Хотелось бы больше аналитики."),),
}

# Meetings in the next days: days ahead, local hour, minute, place, topic.
# Days ahead 0 means "in about two hours from now".
_UPCOMING: dict[str, tuple[int, int, int, str, str]] = {
    "C-0002": (
        0,
        0,
        0,
        "Офис на Пресненской набережной, переговорная «Ладога»",
        "Размещение поступивших средств; подборка альтернативных инвестиций",
    ),
    "C-0005": (
        1,
        11,
        0,
        "Офис клиента, Лесная ул.",
        "Передача бизнеса сыну: семейный фонд, юрист",
    ),
    "C-0012": (1, 16, 30, "Ресторан «Северянин»", "Перевыпуск премиальной карты, план на год"),
    "C-0007": (2, 12, 0, "Офис на Невском проспекте", "Погашение вклада и варианты размещения"),
    "C-0013": (3, 10, 0, "Офис в Екатеринбурге", "Кредитная линия и погашение вклада"),
}

_HOLDING_GROUPS: tuple[tuple[str, str], ...] = (
    (GROUP_ALLIANCE, "Порт, лесопереработка и девелопмент семьи Ветровых."),
    (GROUP_VOLGA, "Агрохолдинг семьи Камаловых: торговля зерном и элеваторы."),
    (GROUP_URALMET, "Производство металлоконструкций и логистика, Екатеринбург."),
)

# Members: group, name, kind, relation, bank's annual profit (RUB), client external id.
_HOLDING_MEMBERS: tuple[tuple[str, str, str, str, int, str | None], ...] = (
    (
        GROUP_ALLIANCE,
        "Ветров Сергей Николаевич",
        "person",
        "Конечный бенефициар",
        4_200_000,
        "C-0005",
    ),
    (GROUP_ALLIANCE, "Ветрова Ольга Викторовна", "person", "Совладелица", 2_700_000, "C-0006"),
    (GROUP_ALLIANCE, "ООО «Северный терминал»", "company", "Дочерняя компания", 18_500_000, None),
    (GROUP_ALLIANCE, "ООО «Северлес»", "company", "Дочерняя компания", -6_300_000, None),
    (
        GROUP_ALLIANCE,
        "АО «Альянс Девелопмент»",
        "company",
        "Совместное предприятие",
        9_100_000,
        None,
    ),
    (GROUP_VOLGA, "Камалов Рустам Ильдарович", "person", "Владелец", 3_900_000, "C-0008"),
    (
        GROUP_VOLGA,
        "Камалова Алсу Рустамовна",
        "person",
        "Финансовый директор",
        1_200_000,
        "C-0009",
    ),
    (
        GROUP_VOLGA,
        "Камалов Ильдар Рустамович",
        "person",
        "Сын владельца, совладелец элеватора",
        0,
        None,
    ),
    (GROUP_VOLGA, "ООО «Волга Агро Трейд»", "company", "Операционная компания", 14_000_000, None),
    (GROUP_VOLGA, "ООО «Поволжский элеватор»", "company", "Дочерняя компания", -4_800_000, None),
    (GROUP_URALMET, "Чернов Евгений Борисович", "person", "Владелец", -1_500_000, "C-0013"),
    (GROUP_URALMET, "ООО «Уралмет»", "company", "Основная компания", 7_800_000, None),
    (GROUP_URALMET, "ООО «Уралмет-Логистика»", "company", "Дочерняя компания", -2_100_000, None),
)


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EventSpec:
    title: str
    description: str
    days: int  # from today; negative for a past event
    hour: int
    venue: str
    city: str
    capacity: int
    plus_ones: bool
    rsvp_days: int  # before the start
    audience: dict[str, Any]
    status: str
    # client external id -> invitation status
    invitations: tuple[tuple[str, str], ...] = ()
    timezone: str = MSK


PAST_EVENT_TITLE = "Семинар для владельцев бизнеса: передача капитала следующему поколению"

_EVENTS: tuple[_EventSpec, ...] = (
    _EventSpec(
        PAST_EVENT_TITLE,
        "Юристы и семейные советники банка о трастах, семейных фондах и наследственных "
        "договорах. Камерный формат, ужин после семинара.",
        -40,
        18,
        "Особняк на Малой Никитской",
        "Москва",
        30,
        False,
        10,
        {"values_segments": ["family_oriented", "conservative"]},
        "done",
        (
            ("C-0005", "checked_in"),
            ("C-0006", "checked_in"),
            ("C-0008", "checked_in"),
            ("C-0032", "checked_in"),
            ("C-0019", "checked_in"),
            ("C-0011", "checked_in"),
            ("C-0022", "accepted"),
            ("C-0013", "declined"),
            ("C-0020", "declined"),
            ("C-0017", "declined"),
            ("C-0001", "sent"),
            ("C-0010", "sent"),
            ("C-0030", "sent"),
            ("C-0023", "sent"),
        ),
    ),
    _EventSpec(
        "Закрытый ужин с шеф-поваром",
        "Ужин-дегустация из семи блюд от шеф-повара Андрея Мельцера на кухне ресторана, "
        "с винным сопровождением сомелье.",
        12,
        19,
        "Ресторан «Северянин», Патриаршие пруды",
        "Москва",
        24,
        True,
        7,
        {"values_segments": ["socially_active"], "cities": ["Москва"]},
        "open",
        (
            ("C-0003", "accepted"),
            ("C-0012", "accepted"),
            ("C-0021", "sent"),
            ("C-0031", "declined"),
            ("C-0014", "maybe"),
        ),
    ),
    _EventSpec(
        "Встреча с главным экономистом банка: ставки, рубль, рынки",
        "Прогноз на полгода вперёд и ответы на вопросы в узком кругу клиентов.",
        9,
        18,
        "Офис на Пресненской набережной, конференц-зал",
        "Москва",
        40,
        False,
        6,
        {"financial_segments": ["active_investor", "stable_keeper"]},
        "open",
        (
            ("C-0002", "accepted"),
            ("C-0018", "accepted"),
            ("C-0015", "accepted"),
            ("C-0001", "sent"),
            ("C-0024", "sent"),
            ("C-0028", "declined"),
        ),
    ),
    _EventSpec(
        "Турнир по гольфу на Кубок «Белой Гавани»",
        "Турнир в формате стейблфорд, мастер-класс для начинающих и ужин в клубном доме.",
        35,
        10,
        "Гольф-клуб в Нахабино",
        "Москва",
        32,
        True,
        10,
        {
            "values_segments": ["socially_active", "technophile"],
            "financial_segments": ["active_investor"],
        },
        "draft",
    ),
    _EventSpec(
        "Кураторская экскурсия по Эрмитажу после закрытия",
        "Прогулка по залам голландской живописи с куратором музея, без посетителей.",
        16,
        19,
        "Государственный Эрмитаж",
        "Санкт-Петербург",
        15,
        True,
        10,
        {"values_segments": ["family_oriented", "conservative"], "cities": ["Санкт-Петербург"]},
        "open",
        (("C-0007", "accepted"), ("C-0011", "sent"), ("C-0025", "accepted")),
    ),
)


# --- service requests ---------------------------------------------------------------------


@dataclass(frozen=True)
class _RequestSpec:
    code: str
    status: str  # new | accepted | resolved
    urgent: bool
    summary: str
    created_minutes_ago: int
    resolve_hours: int
    comments: tuple[tuple[str, int, str], ...]  # author kind, minutes after creation, text
    details: dict[str, Any] | None = None
    duty: bool = False  # handled by the duty desk at night
    rating: tuple[int, str | None] | None = None


_REQUESTS: dict[str, tuple[_RequestSpec, ...]] = {
    "C-0012": (
        _RequestSpec(
            "airport_vip",
            "accepted",
            False,
            "VIP-зал и fast track в Шереметьево, вылет в пятницу в 07:40",
            180,
            48,
            (
                ("client", 0, "Летим вдвоём с супругой, багаж — два чемодана."),
                ("staff", 25, "Принято, бронирую бизнес-зал и сопровождение."),
            ),
            details={"airport": "SVO", "passengers": 2},
        ),
    ),
    "C-0004": (
        _RequestSpec(
            "fx_exchange",
            "new",
            False,
            "Конвертация 200 000 USD в AED по льготному курсу",
            10,
            4,
            (("client", 0, "Please convert before the end of the day."),),
            details={"amount": 200_000, "from": "USD", "to": "AED"},
        ),
    ),
    "C-0021": (
        _RequestSpec(
            "cash_delivery",
            "accepted",
            False,
            "Доставка наличных 1 500 000 ₽ домой завтра к 10:00",
            90,
            20,
            (("staff", 12, "Инкассация согласована, курьер приедет с 9:30 до 10:00."),),
        ),
    ),
    "C-0017": (
        _RequestSpec(
            "documents",
            "new",
            False,
            "Справка об остатках на счетах для посольства",
            45,
            24,
            (),
        ),
    ),
    "C-0003": (
        _RequestSpec(
            "card_block",
            "resolved",
            True,
            "Заблокировать карту: оставил кошелёк в такси",
            20 * 1440,
            1,
            (
                ("client", 0, "Срочно, карта осталась в такси."),
                ("staff", 3, "Карта заблокирована, перевыпуск заказан."),
                ("staff", 1440, "Новая карта доставлена курьером."),
            ),
            rating=(5, "Заблокировали за три минуты."),
        ),
    ),
    "C-0018": (
        _RequestSpec(
            "lost_card_abroad",
            "resolved",
            True,
            "Украли карту в Милане, нужны наличные и временная карта",
            45 * 1440,
            6,
            (
                ("client", 0, "My wallet was stolen in Milan, I need cash tonight."),
                ("staff", 4, "Карта заблокирована. Организуем выдачу наличных в банке-партнёре."),
                ("staff", 150, "Наличные выданы, временная карта готова в отделении партнёра."),
            ),
            duty=True,
            rating=(5, "Everything solved in one call."),
        ),
    ),
    "C-0008": (
        _RequestSpec(
            "urgent_transfer",
            "resolved",
            True,
            "Срочный перевод поставщику в субботу",
            12 * 1440,
            2,
            (("staff", 5, "Платёж подтверждён, отправлен через дежурную смену."),),
            rating=(4, None),
        ),
    ),
    "C-0019": (
        _RequestSpec(
            "legal_consultation",
            "resolved",
            False,
            "Консультация юриста по наследственному договору",
            30 * 1440,
            24,
            (("staff", 60, "Юрист банка свяжется сегодня до 20:00."),),
            rating=(5, "Очень помогли."),
        ),
    ),
    "C-0001": (
        _RequestSpec(
            "cash_delivery",
            "resolved",
            False,
            "Доставка наличных в офис компании",
            100 * 1440,
            8,
            (
                ("staff", 30, "Доставка назначена на 15:00."),
                ("client", 300, "Курьера до сих пор нет, у меня встреча."),
            ),
            rating=(2, "Доставили с опозданием на два часа."),
        ),
    ),
    "C-0010": (
        _RequestSpec(
            "documents",
            "resolved",
            False,
            "Справка о доходах по вкладам для налоговой",
            150 * 1440,
            48,
            (("staff", 200, "Справка направлена почтой."),),
            rating=(4, None),
        ),
    ),
}


# --- interaction texts ------------------------------------------------------------------

_CHANNEL_WEIGHTS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "technophile": (("messenger", "email", "phone", "meeting"), (70, 15, 10, 5)),
    "conservative": (("messenger", "email", "phone", "meeting"), (15, 10, 45, 30)),
    "socially_active": (("messenger", "email", "phone", "meeting"), (40, 10, 25, 25)),
    "family_oriented": (("messenger", "email", "phone", "meeting"), (30, 10, 35, 25)),
}

_KIND_BY_CHANNEL = {
    "messenger": "message",
    "email": "message",
    "phone": "call",
    "meeting": "meeting",
}

_TEXTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("messenger", "in"): (
        "Подскажите, когда заканчивается мой вклад?",
        "Спасибо за быструю помощь с переводом.",
        "Можно перенести встречу на следующую неделю?",
        "Нужна конвертация в юани по хорошему курсу.",
        "Пришлите, пожалуйста, отчёт по счетам за квартал.",
        "Помогите забронировать столик на пятницу на четверых.",
        "Подтвердите, пожалуйста, платёж поставщику.",
    ),
    ("messenger", "out"): (
        "Отправил обзор рынка облигаций.",
        "Прислал варианты размещения средств.",
        "Напомнил о встрече, отправил адрес.",
        "Поздравил с праздником.",
        "Отправил приглашение на закрытое мероприятие.",
        "Подтвердил исполнение платежа.",
    ),
    ("email", "in"): (
        "Запрос справки об остатках для визового центра.",
        "Вопрос по налоговому вычету по ИИС.",
        "Просьба прислать договор доверительного управления.",
    ),
    ("email", "out"): (
        "Направлен ежемесячный аналитический отчёт.",
        "Направлены документы по страховому полису.",
        "Направлено предложение по условиям вклада.",
    ),
    ("phone", "in"): (
        "Звонил уточнить статус перевода.",
        "Звонок по поводу лимитов по карте в поездке.",
        "Спрашивал о доходности вкладов.",
    ),
    ("phone", "out"): (
        "Созвонились: обсудили портфель и планы на квартал.",
        "Звонок-напоминание о погашении вклада.",
        "Обсудили условия продления кредитной линии.",
    ),
    ("meeting", "out"): (
        "Встреча в офисе: пересмотр инвестиционного портфеля.",
        "Встреча за обедом: обсуждение семейного капитала.",
        "Встреча: подписание договора доверительного управления.",
        "Встреча у клиента: структура платежей перед сделкой.",
    ),
}

_NOTIFICATIONS = (
    "Выписка по счёту за месяц готова.",
    "Напоминание о встрече с менеджером.",
    "Начислены проценты по вкладу.",
)

# What an at-risk client's last months look like: the bank tries, nobody answers.
_UNANSWERED = (
    ("messenger", "Предложил встречу для обзора портфеля — ответа нет."),
    ("phone", "Звонок: клиент не взял трубку."),
    ("email", "Направил приглашение на семинар — ответа нет."),
)

_MEETING_PLACES = (
    "Офис на Пресненской набережной",
    "Офис клиента",
    "Ресторан «Северянин»",
    "Переговорная «Ладога»",
)

# Monthly transactions: category, descriptions, low and high amounts (RUB), count per month.
_TxProfile = tuple[tuple[str, tuple[str, ...], int, int, int], ...]
_TX_COMMON: _TxProfile = (
    (
        "card",
        (
            "Рестораны",
            "Авиабилеты",
            "Отели",
            "Ювелирный салон",
            "Медицинская клиника",
            "Бутик",
            "Супермаркет",
        ),
        -900_000,
        -20_000,
        3,
    ),
    (
        "transfer",
        ("Перевод в другой банк", "Оплата обучения", "Перевод родственнику"),
        -2_000_000,
        -100_000,
        1,
    ),
    (
        "income",
        ("Дивиденды", "Заработная плата", "Поступление от компании"),
        800_000,
        3_000_000,
        1,
    ),
)
_TX_EXTRA: dict[str, _TxProfile] = {
    "stable_keeper": (("deposit", ("Капитализация процентов по вкладу",), 150_000, 900_000, 1),),
    "active_investor": (
        ("investment", ("Пополнение брокерского счёта",), -3_000_000, -300_000, 1),
        ("investment", ("Купонный доход", "Продажа ценных бумаг"), 100_000, 2_500_000, 1),
    ),
    "credit_dependent": (
        ("loan", ("Выборка по кредитной линии",), 1_000_000, 5_000_000, 1),
        (
            "loan",
            ("Погашение кредитной линии", "Проценты по кредитной линии"),
            -4_000_000,
            -300_000,
            1,
        ),
    ),
    "low_engagement": (),
}


# --- helpers -----------------------------------------------------------------------------


def _birthday(on: date, age: int) -> date:
    """The birth date of someone turning `age` on the day `on` (29 February handled)."""
    year = on.year - age
    if on.month == 2 and on.day == 29:
        while not calendar.isleap(year):
            year -= 1
    return on.replace(year=year)


def _at_local(day: date, hour: int, minute: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _rub(rng: random.Random, low: int, high: int, step: int = 1) -> Decimal:
    """A random amount between low and high roubles, with kopecks when step is 1."""
    if step == 1:
        return Decimal(rng.randrange(low * 100, high * 100)) / 100
    return Decimal(rng.randrange(low // step, high // step) * step)


_BULK = (m.TransactionRow, m.InteractionRow, m.MeetingRow)

_SUMMARY_TABLES: dict[str, type[m.Base]] = {
    "staff": m.StaffRow,
    "clients": m.ClientRow,
    "holdings": m.ProductHoldingRow,
    "transactions": m.TransactionRow,
    "interactions": m.InteractionRow,
    "life_events": m.LifeEventRow,
    "notes": m.NoteRow,
    "feedback": m.FeedbackRow,
    "holding_groups": m.HoldingGroupRow,
    "holding_members": m.HoldingMemberRow,
    "meetings": m.MeetingRow,
    "events": m.EventRow,
    "invitations": m.InvitationRow,
    "service_requests": m.ServiceRequestRow,
    "request_comments": m.RequestCommentRow,
}


# --- the loader --------------------------------------------------------------------------


async def load_demo_data(crm: SqlCrm, *, clock: Clock, seed: int = 7) -> DemoSummary:
    """Load the demo bank in one transaction; a repeated run creates nothing."""
    async with crm.unit_of_work() as uow:
        loader = _Loader(uow.session, now=clock.now(), seed=seed)
        await loader.run()
        await uow.commit()
        counts: dict[str, int] = {}
        for name, model in _SUMMARY_TABLES.items():
            total = await uow.session.scalar(select(func.count()).select_from(model))
            counts[name] = int(total or 0)
        return DemoSummary(**counts, created=loader.created)


class _Loader:
    def __init__(self, session: AsyncSession, *, now: datetime, seed: int) -> None:
        self.s = session
        self.now = now
        self.today = now.astimezone(ZoneInfo(MSK)).date()
        self.seed = seed
        self.created = 0
        self.staff: dict[str, int] = {}
        self.clients: dict[str, int] = {}
        self.groups: dict[str, int] = {}
        self.bulk: dict[type[m.Base], list[dict[str, Any]]] = {}

    def rng(self, *key: str) -> random.Random:
        # String seeds are hashed deterministically (not by PYTHONHASHSEED).
        return random.Random(":".join((str(self.seed), *key)))

    def add(self, rows: Sequence[m.Base]) -> None:
        for row in rows:
            if isinstance(row, _BULK):
                # Thousands of history rows nobody refers to: one executemany, no RETURNING.
                values = {k: v for k, v in vars(row).items() if not k.startswith("_")}
                self.bulk.setdefault(type(row), []).append(values)
            else:
                self.s.add(row)
        self.created += len(rows)

    async def flush_bulk(self) -> None:
        for model, values in self.bulk.items():
            await self.s.execute(insert(model), values)
        self.bulk.clear()

    async def run(self) -> None:
        await self.load_staff()
        await self.load_groups()
        new_clients = await self.load_clients()
        for spec in new_clients:
            await self.load_client_history(spec)
        await self.load_group_members()
        await self.load_events()
        await self.s.flush()
        await self.flush_bulk()

    # staff, groups, clients ----------------------------------------------------------------

    async def load_staff(self) -> None:
        existing = {
            row.external_id: row
            for row in await self.s.scalars(
                select(m.StaffRow).where(m.StaffRow.external_id.in_([x.ext for x in _STAFF]))
            )
        }
        new: list[tuple[_StaffSpec, m.StaffRow]] = []
        for spec in _STAFF:
            if spec.ext in existing:
                continue
            row = m.StaffRow(
                external_id=spec.ext,
                full_name=spec.full_name,
                roles=spec.roles,
                timezone=spec.timezone,
                language="ru",
                work_start=spec.start,
                work_end=spec.end,
                email=spec.email,
                phone=spec.phone,
            )
            existing[spec.ext] = row
            new.append((spec, row))
        self.add([row for _, row in new])
        await self.s.flush()
        self.staff = {ext: row.id for ext, row in existing.items()}
        for spec, row in new:
            if spec.backup:
                row.backup_id = self.staff[spec.backup]

    async def load_groups(self) -> None:
        names = [name for name, _ in _HOLDING_GROUPS]
        rows = await self.s.scalars(
            select(m.HoldingGroupRow).where(m.HoldingGroupRow.name.in_(names))
        )
        existing = {row.name: row for row in rows}
        new = [
            m.HoldingGroupRow(name=name, description=description)
            for name, description in _HOLDING_GROUPS
            if name not in existing
        ]
        self.add(new)
        await self.s.flush()
        existing.update({row.name: row for row in new})
        self.groups = {name: row.id for name, row in existing.items()}

    async def load_clients(self) -> list[_ClientSpec]:
        rows = await self.s.execute(
            select(m.ClientRow.external_id, m.ClientRow.id).where(
                m.ClientRow.external_id.in_([c.ext for c in _CLIENTS])
            )
        )
        self.clients = dict(rows.all())
        specs = [spec for spec in _CLIENTS if spec.ext not in self.clients]
        new = [self.client_row(spec) for spec in specs]
        self.add(new)
        await self.s.flush()
        self.clients.update({row.external_id: row.id for row in new})
        return specs

    def local_today(self, tz: str) -> date:
        return self.now.astimezone(ZoneInfo(tz)).date()

    def client_row(self, spec: _ClientSpec) -> m.ClientRow:
        rng = self.rng(spec.ext, "profile")
        today = self.local_today(spec.timezone)
        age = rng.randint(34, 71)
        offsets = {"birthday_0": 0, "birthday_2": 2, "birthday_5": 5}
        offset = next((d for t, d in offsets.items() if t in spec.traits), None)
        if offset is None:
            # Everybody else celebrates well outside the coming week.
            offset = rng.randint(10, 355)
        client_since = self.today - timedelta(days=spec.since_days)
        manager_since = client_since
        previous = None
        if "churn" in spec.traits:
            manager_since = self.today - timedelta(days=MANAGER_CHANGE_DAYS)
            previous = self.staff["S-0002"]
        return m.ClientRow(
            external_id=spec.ext,
            first_name=spec.first,
            middle_name=spec.middle,
            last_name=spec.last,
            birthday=_birthday(today + timedelta(days=offset), age),
            gender=spec.gender,
            city=spec.city,
            timezone=spec.timezone,
            language=spec.lang,
            preferred_channel=spec.channel,
            quiet_start=time(spec.quiet[0], 0),
            quiet_end=time(spec.quiet[1], 0),
            do_not_disturb=spec.dnd,
            marketing_opt_out=spec.opt_out,
            financial_segment=spec.fin,
            values_segment=spec.values,
            occupation=spec.occupation,
            is_public_person=spec.public,
            opinion_leader=spec.leader,
            decision_influencer=spec.influencer,
            what_matters=spec.matters,
            manager_id=self.staff[spec.manager],
            previous_manager_id=previous,
            manager_since=manager_since,
            holding_group_id=self.groups[spec.group] if spec.group else None,
            client_since=client_since,
        )

    # a new client's history -----------------------------------------------------------------

    def manager_on(self, spec: _ClientSpec, day: date) -> int:
        """Who managed the client on that day (the churn client had another manager)."""
        if "churn" in spec.traits and day < self.today - timedelta(days=MANAGER_CHANGE_DAYS):
            return self.staff["S-0002"]
        return self.staff[spec.manager]

    async def load_client_history(self, spec: _ClientSpec) -> None:
        client_id = self.clients[spec.ext]
        self.add(self.holdings(spec, client_id))
        self.add(self.transactions(spec, client_id))
        self.add(self.interactions(spec, client_id))
        self.add(self.facts(spec, client_id))
        self.add(self.upcoming_meeting(spec, client_id))
        for request in _REQUESTS.get(spec.ext, ()):
            await self.service_request(spec, client_id, request)

    def holdings(self, spec: _ClientSpec, client_id: int) -> list[m.ProductHoldingRow]:
        rng = self.rng(spec.ext, "holdings")
        since = self.today - timedelta(days=spec.since_days)
        rows: list[m.ProductHoldingRow] = []

        def hold(kind: str, name: str, balance: Decimal, **extra: Any) -> None:
            opened = since + timedelta(days=rng.randint(0, max(spec.since_days - 30, 1)))
            extra.setdefault("opened_on", opened)
            rows.append(
                m.ProductHoldingRow(
                    client_id=client_id, product_type=kind, name=name, balance=balance, **extra
                )
            )

        potential = "potential" in spec.traits
        wants_deposit = any(t.startswith("deposit_") for t in spec.traits)
        if potential or wants_deposit or spec.fin == "stable_keeper" or rng.random() < 0.5:
            # Only the "potential" clients hold a large deposit without investments or insurance.
            low, high = (30_000_000, 120_000_000) if potential else (5_000_000, 60_000_000)
            if not potential and spec.fin in ("credit_dependent", "low_engagement"):
                low, high = 3_000_000, 25_000_000
            matures = self.today + timedelta(days=self.deposit_days(spec, rng))
            hold(
                "deposit",
                rng.choice(("Вклад «Капитал»", "Вклад «Приоритет»", "Вклад «Резерв+»")),
                _rub(rng, low, high, 100_000),
                rate_percent=Decimal(rng.choice(("14.500", "15.200", "16.000", "17.300"))),
                opened_on=matures - timedelta(days=rng.choice((181, 367))),
                matures_on=matures,
            )
        if spec.fin in ("stable_keeper", "low_engagement") or potential:
            hold(
                "savings",
                "Накопительный счёт «Гавань»",
                _rub(rng, 1_000_000, 10_000_000, 1000),
                rate_percent=Decimal("13.000"),
            )
        card_days = (
            rng.choice((12, 27)) if "card_expiring" in spec.traits else rng.randint(90, 900)
        )
        hold(
            "premium_card",
            rng.choice(("Карта «Белая Гавань Infinite»", "Карта «Белая Гавань Signature»")),
            _rub(rng, 100_000, 3_000_000),
            expires_on=self.today + timedelta(days=card_days),
        )
        if not potential:
            self.segment_products(spec, rng, hold)
        return rows

    def deposit_days(self, spec: _ClientSpec, rng: random.Random) -> int:
        for trait, days in (("deposit_3", 2), ("deposit_14", 10), ("deposit_30", 25)):
            if trait in spec.traits:
                return days
        return rng.randint(45, 330)

    def segment_products(
        self, spec: _ClientSpec, rng: random.Random, hold: Callable[..., None]
    ) -> None:
        """Investments, insurance, credit and FX fitting the client's financial segment."""
        chance = {
            "stable_keeper": 0.3,
            "active_investor": 0.8,
            "credit_dependent": 0.15,
            "low_engagement": 0.0,
        }[spec.fin]
        if spec.fin == "active_investor":
            hold("brokerage", "Брокерский счёт", _rub(rng, 15_000_000, 150_000_000, 10_000))
        if spec.fin == "stable_keeper":
            hold(
                "insurance_life",
                "Накопительное страхование жизни «Наследие»",
                _rub(rng, 3_000_000, 20_000_000, 10_000),
            )
        if spec.fin == "credit_dependent":
            hold(
                "credit_line",
                "Кредитная линия для бизнеса (лимит 200 млн ₽)",
                -_rub(rng, 20_000_000, 150_000_000, 100_000),
                rate_percent=Decimal("22.500"),
            )
            if rng.random() < 0.6:
                hold(
                    "insurance_property",
                    "Страхование недвижимости",
                    _rub(rng, 50_000_000, 300_000_000, 1_000_000),
                )
        optional = (
            ("trust", "Доверительное управление «Сбалансированный»", 20_000_000, 80_000_000),
            ("mutual_fund", "ПИФ «Облигации Плюс»", 2_000_000, 15_000_000),
            ("structured", "Структурный продукт «Защита капитала 100%»", 5_000_000, 30_000_000),
            ("alternative", "Фонд недвижимости «Альтернатива»", 10_000_000, 40_000_000),
        )
        for kind, name, low, high in optional:
            if rng.random() < chance:
                hold(kind, name, _rub(rng, low, high, 10_000))
        if spec.fin == "active_investor" and rng.random() < 0.6:
            currency = rng.choice(("USD", "EUR", "CNY"))
            hold(
                "fx", f"Валютный счёт {currency}", _rub(rng, 50_000, 2_000_000), currency=currency
            )
        if rng.random() < 0.35 or spec.timezone == DXB:
            hold(
                "insurance_travel",
                "Страхование путешественников, весь мир",
                Decimal("150000.00"),
                currency="EUR",
                expires_on=self.today + timedelta(days=rng.randint(60, 360)),
            )

    def history_start(self, spec: _ClientSpec) -> date:
        return max(self.today - timedelta(days=365), self.today - timedelta(days=spec.since_days))

    def transactions(self, spec: _ClientSpec, client_id: int) -> list[m.TransactionRow]:
        rng = self.rng(spec.ext, "transactions")
        start = self.history_start(spec)
        declining = "at_risk" in spec.traits
        rows: list[m.TransactionRow] = []
        for month in range(12):
            quiet = declining and month < 3
            for category, descriptions, low, high, count in _TX_COMMON + _TX_EXTRA[spec.fin]:
                for _ in range(count):
                    when = self.now - timedelta(days=30 * month + rng.uniform(0.5, 30))
                    # The at-risk clients nearly stop using their accounts in the last quarter.
                    if when.date() < start or (quiet and rng.random() > 0.25):
                        continue
                    amount = _rub(rng, low, high)
                    rows.append(
                        m.TransactionRow(
                            client_id=client_id,
                            occurred_at=when,
                            amount_rub=(amount * Decimal("0.3")).quantize(Decimal("0.01"))
                            if quiet
                            else amount,
                            category=category,
                            description=rng.choice(descriptions),
                        )
                    )
        if spec.ext in _BIG_INFLOWS:
            inflow, hours, description = _BIG_INFLOWS[spec.ext]
            rows.append(
                m.TransactionRow(
                    client_id=client_id,
                    occurred_at=self.now - timedelta(hours=hours),
                    amount_rub=Decimal(inflow),
                    category="income",
                    description=description,
                )
            )
        return rows

    def interactions(self, spec: _ClientSpec, client_id: int) -> list[m.Base]:
        """Twelve months of contacts in the client's favourite channels, plus held meetings."""
        rng = self.rng(spec.ext, "interactions")
        start = self.history_start(spec)
        silent_since = self.today - timedelta(days=MANAGER_CHANGE_DAYS)
        rows: list[m.Base] = []
        for month in range(12):
            # The churn client simply goes silent; the other at-risk ones stop answering.
            at_risk_recent = "at_risk" in spec.traits and "churn" not in spec.traits and month < 3
            for _ in range(1 if at_risk_recent else rng.randint(1, 3)):
                day = self.today - timedelta(days=30 * month + rng.randint(1, 29))
                if day < start or ("churn" in spec.traits and day >= silent_since):
                    continue
                when = _at_local(
                    day, rng.randint(9, 19), rng.choice((0, 15, 30, 45)), spec.timezone
                )
                if at_risk_recent:
                    channel, text = rng.choice(_UNANSWERED)
                    rows.append(self.interaction(spec, client_id, when, channel, "out", text))
                    continue
                rows.extend(self.contact(spec, client_id, when, rng))
        if spec.ext in _BIG_INFLOWS:
            amount, hours, _ = _BIG_INFLOWS[spec.ext]
            when = self.now - timedelta(hours=hours) + timedelta(minutes=2)
            text = f"Уведомление: поступление {amount:,} ₽ на текущий счёт.".replace(",", " ")
            rows.append(
                self.interaction(
                    spec, client_id, when, "messenger", "out", text, kind="notification"
                )
            )
        if spec.ext == "C-0002":
            when = self.now - timedelta(hours=21)
            text = "Расскажите про альтернативные инвестиции — что можете предложить?"
            rows.append(self.interaction(spec, client_id, when, "messenger", "in", text))
        return rows

    def contact(
        self, spec: _ClientSpec, client_id: int, when: datetime, rng: random.Random
    ) -> list[m.Base]:
        channels, weights = _CHANNEL_WEIGHTS[spec.values]
        channel = rng.choices(channels, weights)[0]
        direction = "out" if channel == "meeting" else rng.choice(("in", "out"))
        if channel == "messenger" and direction == "out" and rng.random() < 0.25:
            text = rng.choice(_NOTIFICATIONS)
            return [
                self.interaction(
                    spec, client_id, when, channel, direction, text, kind="notification"
                )
            ]
        text = rng.choice(_TEXTS[(channel, direction)])
        rows: list[m.Base] = [self.interaction(spec, client_id, when, channel, direction, text)]
        if channel == "meeting":
            rows.append(
                m.MeetingRow(
                    client_id=client_id,
                    manager_id=self.manager_on(spec, when.date()),
                    starts_at=when,
                    place=rng.choice(_MEETING_PLACES),
                    topic=text.split(": ", 1)[-1].rstrip(".").capitalize(),
                    status="held",
                    created_at=when - timedelta(days=rng.randint(2, 10)),
                )
            )
        return rows

    def interaction(
        self,
        spec: _ClientSpec,
        client_id: int,
        when: datetime,
        channel: str,
        direction: str,
        text: str,
        *,
        kind: str | None = None,
    ) -> m.InteractionRow:
        return m.InteractionRow(
            occurred_at=when,
            channel=channel,
            direction=direction,
            kind=kind or _KIND_BY_CHANNEL[channel],
            actor="client" if direction == "in" else "staff",
            client_id=client_id,
            staff_id=self.manager_on(spec, when.date()),
            text=text,
        )

    def facts(self, spec: _ClientSpec, client_id: int) -> list[m.Base]:
        """Life events, managers' notes and NPS answers."""
        rows: list[m.Base] = []
        for kind, happened, recorded, text in _LIFE_EVENTS.get(spec.ext, ()):
            rows.append(
                m.LifeEventRow(
                    client_id=client_id,
                    kind=kind,
                    happened_on=self.today + timedelta(days=happened),
                    description=text,
                    recorded_at=self.now - timedelta(days=recorded),
                )
            )
        for days_ago, kind, text in _NOTES.get(spec.ext, ()):
            created = self.now - timedelta(days=days_ago, hours=2)
            rows.append(
                m.NoteRow(
                    client_id=client_id,
                    author_id=self.manager_on(spec, created.date()),
                    created_at=created,
                    text=text,
                    kind=kind,
                )
            )
        for days_ago, score, comment in _NPS.get(spec.ext, ()):
            rows.append(
                m.FeedbackRow(
                    client_id=client_id,
                    kind="nps",
                    score=score,
                    comment=comment,
                    created_at=self.now - timedelta(days=days_ago, hours=5),
                )
            )
        return rows

    def upcoming_meeting(self, spec: _ClientSpec, client_id: int) -> list[m.MeetingRow]:
        if spec.ext not in _UPCOMING:
            return []
        days, hour, minute, place, topic = _UPCOMING[spec.ext]
        if days == 0:
            soon = self.now + timedelta(hours=2)
            starts = soon.replace(minute=soon.minute - soon.minute % 15, second=0, microsecond=0)
        else:
            day = self.local_today(spec.timezone) + timedelta(days=days)
            starts = _at_local(day, hour, minute, spec.timezone)
        return [
            m.MeetingRow(
                client_id=client_id,
                manager_id=self.staff[spec.manager],
                starts_at=starts,
                place=place,
                topic=topic,
                status="planned",
                created_at=self.now - timedelta(days=3),
            )
        ]

    async def service_request(
        self, spec: _ClientSpec, client_id: int, request: _RequestSpec
    ) -> None:
        created = self.now - timedelta(minutes=request.created_minutes_ago)
        resolved = request.status == "resolved"
        acked = request.status in ("accepted", "resolved")
        row = m.ServiceRequestRow(
            client_id=client_id,
            service_code=request.code,
            status=request.status,
            urgent=request.urgent,
            summary=request.summary,
            details=request.details,
            assignee_id=self.staff["S-0007" if request.duty else spec.manager] if acked else None,
            created_at=created,
            ack_due_at=created + timedelta(minutes=5 if request.urgent else 30),
            resolve_due_at=created + timedelta(hours=request.resolve_hours),
            acknowledged_at=created + timedelta(minutes=3) if acked else None,
            resolved_at=created + timedelta(hours=request.resolve_hours * 0.8)
            if resolved
            else None,
            closed_at=created + timedelta(hours=request.resolve_hours) if resolved else None,
        )
        self.add([row])
        await self.s.flush()
        comments: list[m.Base] = [
            m.RequestCommentRow(
                request_id=row.id,
                author_kind=author,
                author_staff_id=row.assignee_id if author == "staff" else None,
                text=text,
                created_at=created + timedelta(minutes=minutes),
            )
            for author, minutes, text in request.comments
        ]
        if request.rating and row.closed_at:
            score, comment = request.rating
            comments.append(
                m.FeedbackRow(
                    client_id=client_id,
                    kind="request",
                    subject_id=row.id,
                    score=score,
                    comment=comment,
                    created_at=row.closed_at + timedelta(minutes=20),
                )
            )
        self.add(comments)

    # groups and events ---------------------------------------------------------------------

    async def load_group_members(self) -> None:
        rows = await self.s.execute(
            select(m.HoldingMemberRow.group_id, m.HoldingMemberRow.name).where(
                m.HoldingMemberRow.group_id.in_(list(self.groups.values()))
            )
        )
        existing = {(group_id, name) for group_id, name in rows}
        new: list[m.HoldingMemberRow] = []
        for group, name, kind, relation, profit, client in _HOLDING_MEMBERS:
            group_id = self.groups[group]
            if (group_id, name) in existing:
                continue
            new.append(
                m.HoldingMemberRow(
                    group_id=group_id,
                    client_id=self.clients[client] if client else None,
                    name=name,
                    member_kind=kind,
                    relation=relation,
                    annual_profit_rub=Decimal(profit),
                )
            )
        self.add(new)

    async def load_events(self) -> None:
        titles = set(
            await self.s.scalars(
                select(m.EventRow.title).where(m.EventRow.title.in_([e.title for e in _EVENTS]))
            )
        )
        for spec in _EVENTS:
            if spec.title not in titles:
                await self.event(spec)

    async def event(self, spec: _EventSpec) -> None:
        rng = self.rng("event", spec.title)
        day = self.local_today(spec.timezone) + timedelta(days=spec.days)
        starts = _at_local(day, spec.hour, 0, spec.timezone)
        row = m.EventRow(
            title=spec.title,
            description=spec.description,
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            timezone=spec.timezone,
            venue=spec.venue,
            city=spec.city,
            capacity=spec.capacity,
            plus_ones_allowed=spec.plus_ones,
            rsvp_deadline=starts - timedelta(days=spec.rsvp_days),
            audience=spec.audience,
            status=spec.status,
            coordinator_id=self.staff["S-0005"],
            created_at=min(self.now, starts) - timedelta(days=30),
        )
        self.add([row])
        await self.s.flush()
        sent = starts - timedelta(days=spec.rsvp_days + 5)
        rows: list[m.Base] = []
        for ext, status in spec.invitations:
            answered = status not in ("planned", "sent")
            checked_in = status == "checked_in"
            rows.append(
                m.InvitationRow(
                    event_id=row.id,
                    client_id=self.clients[ext],
                    status=status,
                    plus_one=spec.plus_ones and status == "accepted" and rng.random() < 0.5,
                    sent_at=sent,
                    answered_at=sent + timedelta(hours=rng.randint(2, 72)) if answered else None,
                    checked_in_at=starts + timedelta(minutes=rng.randint(0, 20))
                    if checked_in
                    else None,
                )
            )
            if checked_in and rng.random() < 0.7:
                rows.append(
                    m.FeedbackRow(
                        client_id=self.clients[ext],
                        kind="event",
                        subject_id=row.id,
                        score=rng.choice((4, 5, 5)),
                        comment=rng.choice((None, "Очень полезно, спасибо.", "Прекрасный вечер.")),
                        created_at=row.ends_at + timedelta(hours=rng.randint(12, 48)),
                    )
                )
        self.add(rows)
