"""Language detection, tokenisation, the manager request and interest signals."""

import pytest

from knowledge.intents import asks_for_manager, interest_family
from knowledge.text import detect_language, split_sentences, terms


def test_detect_language_by_cyrillic_share() -> None:
    assert detect_language("Какая ставка по вкладу?") == "ru"
    assert detect_language("What is the deposit rate?") == "en"
    assert detect_language("ставка World Elite") == "ru"
    assert detect_language("12345", default="en") == "en"


def test_terms_fold_yo_stem_and_drop_stopwords() -> None:
    assert terms("Ещё ёлки") == terms("еще елки")[0:0] + terms("елки")
    assert terms("вклады вкладов") == [terms("вклад")[0]] * 2
    assert terms("the deposits") == ["deposit"]


def test_split_sentences_drops_bullets_and_headings() -> None:
    text = "## Заголовок\n- Первый пункт.\n- Второй. Третий предложение."
    assert split_sentences(text) == ["Первый пункт.", "Второй.", "Третий предложение."]


@pytest.mark.parametrize(
    "question",
    [
        "хочу поговорить с менеджером",
        "Позовите человека!",
        "соедините меня с живым оператором",
        "пусть менеджер мне перезвонит",
        "I'd like to talk to my manager",
        "connect me with a human please",
        "нужен живой человек",
        "свяжите меня с моим менеджером",
        # Regression: answered from the inheritance page instead of reaching the manager.
        "Добрый день, можно перенести встречу?",
        "Нужно отменить завтрашнюю встречу",
        "Can we reschedule our meeting to Thursday?",
    ],
)
def test_asks_for_manager(question: str) -> None:
    assert asks_for_manager(question)


@pytest.mark.parametrize(
    "question",
    [
        "какая ставка по вкладу",
        "менеджер сказал про кэшбэк, сколько он?",
        # Regression: a complaint about the manager was taken for a request to talk to one.
        "хочу пожаловаться на менеджера",
        "как записаться на встречу с юристом?",
        "какие встречи с экономистами будут в декабре?",
    ],
)
def test_plain_questions_do_not_ask_for_manager(question: str) -> None:
    assert not asks_for_manager(question)


def test_interest_family_needs_intent_and_a_family() -> None:
    assert interest_family("хочу вложиться в альтернативные инвестиции") == "investments"
    assert interest_family("Рассматриваю страхование жизни для детей") == "insurance"
    assert interest_family("I am interested in a credit line") == "credit"
    assert interest_family("какая ставка по вкладу на год?") is None
    assert interest_family("хочу что-нибудь такое", fallback_family="deposits") == "deposits"
