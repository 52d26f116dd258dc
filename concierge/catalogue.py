"""The service catalogue a bank edits without code, and validation of the client's answers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from common.i18n import DATE_TIME_FORMAT
from common.sensitive import mask

CATALOGUE_PATH = Path(__file__).resolve().parent / "catalogue.yaml"
# Services the bot itself creates (hand-over, data-subject requests); the file must have them.
REQUIRED_INTERNAL = ("question", "emergency", "data_export", "data_deletion")
# The red button's pseudo-service: its steps are built from the red-button section.
SOS_CODE = "sos"
# ISO 4217 codes a private bank plausibly handles; a typo like "USB" is caught, not booked.
KNOWN_CURRENCIES = frozenset(
    {
        *("RUB", "USD", "EUR", "CNY", "AED", "GBP", "CHF", "JPY", "HKD", "SGD", "KZT"),
        *("BYN", "TRY", "INR", "THB", "AMD", "GEL", "UZS", "KRW", "CAD", "AUD", "SEK"),
        *("NOK", "DKK", "CZK", "PLN", "HUF", "ILS", "SAR", "QAR", "ZAR", "BRL", "MXN"),
    }
)
_PLACE = re.compile(r"^[^\W\d_][\w\s\-'.,()]*$")


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Localized(Model):
    ru: str
    en: str

    def __call__(self, language: str) -> str:
        return self.en if language == "en" else self.ru


class StepKind(StrEnum):
    CHOICE = "choice"
    DATE = "date"
    DATETIME = "datetime"
    AMOUNT = "amount"
    CURRENCY = "currency"
    COUNTRY = "country"
    CITY = "city"
    TEXT = "text"


class Option(Model):
    value: str
    ru: str
    en: str

    def title(self, language: str) -> str:
        return self.en if language == "en" else self.ru


class Step(Model):
    field: str
    kind: StepKind
    label: Localized  # how the answer is titled in the summary and the manager's card
    prompt: Localized
    options: tuple[Option, ...] = ()
    min_length: int = Field(default=2, ge=1)
    max_length: int = Field(default=1000, le=4000)
    min_amount: Decimal = Decimal("0.01")
    max_amount: Decimal = Decimal("100000000000")
    max_days_ahead: int = Field(default=365, ge=0)

    @field_validator("options", mode="before")
    @classmethod
    def _short_options(cls, value: Any) -> Any:
        # Currency steps list bare codes; they read as their own titles in both languages.
        if isinstance(value, list):
            return [{"value": v, "ru": v, "en": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        if self.kind is StepKind.CHOICE and not self.options:
            raise ValueError(f"choice step {self.field!r} needs options")
        if self.kind is StepKind.CURRENCY:
            unknown = {o.value for o in self.options} - KNOWN_CURRENCIES
            if unknown:
                raise ValueError(f"unknown currencies in {self.field!r}: {sorted(unknown)}")
        if self.min_length > self.max_length or self.min_amount > self.max_amount:
            raise ValueError(f"step {self.field!r}: minimum above maximum")
        return self


class Sla(Model):
    ack_minutes: PositiveInt
    resolve_hours: PositiveInt


class Service(Model):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,47}$")
    title: Localized
    urgent: bool = False
    red_button: bool = False
    internal: bool = False
    sla: Sla
    steps: tuple[Step, ...] = ()

    @model_validator(mode="after")
    def _unique_fields(self) -> Service:
        fields = [s.field for s in self.steps]
        if len(fields) != len(set(fields)):
            raise ValueError(f"service {self.code!r} repeats a field")
        if not self.internal and not self.steps:
            raise ValueError(f"service {self.code!r} is offered to clients but asks nothing")
        return self


class RedButton(Model):
    sla: Sla
    what_prompt: Localized
    where_prompt: Localized
    other: Localized


class ServiceCatalogue(Model):
    services: tuple[Service, ...]
    red_button: RedButton

    @model_validator(mode="after")
    def _complete(self) -> ServiceCatalogue:
        codes = [s.code for s in self.services]
        if len(codes) != len(set(codes)):
            raise ValueError("service codes must be unique")
        missing = set(REQUIRED_INTERNAL) - set(codes)
        if missing:
            raise ValueError(f"the catalogue lacks internal services {sorted(missing)}")
        if not any(s.red_button for s in self.services):
            raise ValueError("at least one service must be red-button eligible")
        return self

    def get(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def menu(self) -> list[Service]:
        return [s for s in self.services if not s.internal]

    def red_button_services(self) -> list[Service]:
        return [s for s in self.services if s.red_button and not s.internal]

    def sos(self) -> Service:
        """The red button as a two-step service: what happened (a choice), and where."""
        rb = self.red_button
        options = [
            Option(value=s.code, ru=s.title.ru, en=s.title.en) for s in self.red_button_services()
        ]
        options.append(Option(value="emergency", ru=rb.other.ru, en=rb.other.en))
        what = Step(
            field="what",
            kind=StepKind.CHOICE,
            label=Localized(ru="Что случилось", en="What happened"),
            prompt=rb.what_prompt,
            options=tuple(options),
        )
        where = Step(
            field="where",
            kind=StepKind.TEXT,
            label=Localized(ru="Где", en="Where"),
            prompt=rb.where_prompt,
            max_length=300,
        )
        return Service(
            code=SOS_CODE,
            title=Localized(ru="Срочная помощь", en="Emergency help"),
            urgent=True,
            internal=True,
            sla=rb.sla,
            steps=(what, where),
        )


def load_catalogue(path: Path = CATALOGUE_PATH) -> ServiceCatalogue:
    """Reads and validates the file; a mistake stops start-up with pydantic's explanation."""
    return ServiceCatalogue.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def default_catalogue() -> ServiceCatalogue:
    """The shipped catalogue, read once per process (scheduler jobs call use cases without it)."""
    return load_catalogue()


# --- the client's answers -------------------------------------------------------------------


class InvalidAnswer(Exception):
    """The answer does not fit the step; `reason` names the retry text, `params` fill it."""

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


class Answer(Model):
    value: str  # what the CRM stores (ISO dates in UTC, plain decimals, codes)
    shown: str  # what the client and the manager read


_DATE_FORMATS = ("%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d", "%d/%m/%Y")
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def _parse_day(raw: str, today: date) -> date:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).date()  # noqa: DTZ007 - a calendar day, no zone
        except ValueError:
            continue
    short = re.fullmatch(r"(\d{1,2})\.(\d{1,2})", raw)
    if short:
        # "25.12" means the next such day: this year, or next year if it has passed.
        try:
            day = date(today.year, int(short[2]), int(short[1]))
        except ValueError as exc:
            raise InvalidAnswer("date") from exc
        return day if day >= today else day.replace(year=today.year + 1)
    raise InvalidAnswer("date")


def _check_range(day: date, today: date, step: Step) -> None:
    if day < today:
        raise InvalidAnswer("past")
    if day > today + timedelta(days=step.max_days_ahead):
        raise InvalidAnswer("too_far", days=step.max_days_ahead)


def parse_amount(raw: str) -> Decimal:
    """Reads "1 500 000", "1,500,000.50", "1.500.000,50" and "1500000,5" alike."""
    text = re.sub(r"[\s\u00a0\u202f']", "", raw)
    text = re.sub(r"(?i)(руб\.?|rub|₽)$", "", text)
    if not re.fullmatch(r"\d[\d.,]*", text):
        raise InvalidAnswer("amount")
    last_dot, last_comma = text.rfind("."), text.rfind(",")
    decimal_mark = max(last_dot, last_comma)
    if decimal_mark >= 0 and len(text) - decimal_mark - 1 in (1, 2):
        whole, fraction = text[:decimal_mark], text[decimal_mark + 1 :]
    else:
        whole, fraction = text, ""
    whole = whole.replace(",", "").replace(".", "")
    try:
        return Decimal(f"{whole}.{fraction}" if fraction else whole)
    except InvalidOperation as exc:
        raise InvalidAnswer("amount") from exc


def format_amount(amount: Decimal) -> str:
    shown = f"{amount:,.2f}".replace(",", "\u00a0")
    return shown.removesuffix(".00")


def _choice(step: Step, text: str, language: str, tz: ZoneInfo, now: datetime) -> Answer:
    # Typing an option's title is as good as pressing its button.
    for option in step.options:
        if text.casefold() in (option.ru.casefold(), option.en.casefold(), option.value):
            return Answer(value=option.value, shown=option.title(language))
    raise InvalidAnswer("choose_button")


def _date(step: Step, text: str, language: str, tz: ZoneInfo, now: datetime) -> Answer:
    today = now.astimezone(tz).date()
    day = _parse_day(text, today)
    _check_range(day, today, step)
    return Answer(value=day.isoformat(), shown=day.strftime("%d.%m.%Y"))


def _datetime(step: Step, text: str, language: str, tz: ZoneInfo, now: datetime) -> Answer:
    today = now.astimezone(tz).date()
    parts = text.rsplit(maxsplit=1)
    clock = _TIME.match(parts[-1]) if len(parts) == 2 else None
    if clock is None or int(clock[1]) > 23 or int(clock[2]) > 59:
        raise InvalidAnswer("datetime")
    day = _parse_day(parts[0], today)
    # The client means their own wall clock; stored in UTC.
    moment = datetime(day.year, day.month, day.day, int(clock[1]), int(clock[2]), tzinfo=tz)
    if moment < now:
        raise InvalidAnswer("past")
    _check_range(day, today, step)
    return Answer(
        value=moment.astimezone(UTC).isoformat(), shown=moment.strftime(DATE_TIME_FORMAT)
    )


def _amount(step: Step, text: str, language: str, tz: ZoneInfo, now: datetime) -> Answer:
    amount = parse_amount(text)
    if not step.min_amount <= amount <= step.max_amount:
        raise InvalidAnswer(
            "amount_range", low=format_amount(step.min_amount), high=format_amount(step.max_amount)
        )
    return Answer(value=str(amount), shown=format_amount(amount))


def _currency(step: Step, text: str, language: str, tz: ZoneInfo, now: datetime) -> Answer:
    code = text.upper()
    if code not in KNOWN_CURRENCIES:
        raise InvalidAnswer("currency")
    return Answer(value=code, shown=code)


def _place(step: Step, text: str, language: str, tz: ZoneInfo, now: datetime) -> Answer:
    if not 2 <= len(text) <= 80 or not _PLACE.match(text):
        raise InvalidAnswer("place")
    return Answer(value=text, shown=text)


def _text(step: Step, text: str, language: str, tz: ZoneInfo, now: datetime) -> Answer:
    if not step.min_length <= len(text) <= step.max_length:
        raise InvalidAnswer("length", low=step.min_length, high=step.max_length)
    # Masked on arrival: the answer is shown back, kept in the conversation state (Redis in
    # production), summarised for staff and stored; a card or account number typed here
    # belongs in the bank's secure channel.
    masked = mask(text).text
    return Answer(value=masked, shown=masked)


_PARSERS = {
    StepKind.CHOICE: _choice,
    StepKind.DATE: _date,
    StepKind.DATETIME: _datetime,
    StepKind.AMOUNT: _amount,
    StepKind.CURRENCY: _currency,
    StepKind.COUNTRY: _place,
    StepKind.CITY: _place,
    StepKind.TEXT: _text,
}


def parse_answer(step: Step, raw: str, *, language: str, tz: ZoneInfo, now: datetime) -> Answer:
    """Validates one typed answer; raises InvalidAnswer with the reason to explain."""
    text = raw.strip()
    if not text:
        raise InvalidAnswer("empty")
    return _PARSERS[step.kind](step, text, language, tz, now)
