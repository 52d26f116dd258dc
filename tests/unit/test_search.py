"""Finding clients across scripts and typos."""

from __future__ import annotations

import pytest

from concierge.search import find_clients, to_cyrillic, to_latin
from tests.unit.insight_fixtures import make_client

CLIENTS = [
    make_client(id=1, external_id="C-0001", last_name="Волков", first_name="Иван"),
    make_client(id=2, external_id="C-0002", last_name="Морозова", first_name="Елена"),
    make_client(id=3, external_id="C-0003", last_name="Щукин", first_name="Юрий"),
    make_client(id=4, external_id="C-0004", last_name="Волкова", first_name="Анна"),
]


def test_transliteration_both_ways() -> None:
    assert to_latin("Щукин Юрий Жуков") == "shchukin yuriy zhukov"
    assert to_cyrillic("Shchukin Zhukov Yakovleva") == "щукин жуков яковлева"
    assert to_cyrillic(to_latin("Морозова Елена")) == "морозова елена"


@pytest.mark.parametrize("query", ["Волков", "Volkov", "Valkov", "Волкв", "wolkow", "волков иван"])
def test_typos_and_scripts_find_volkov_first(query: str) -> None:
    found = find_clients(query, CLIENTS)
    assert found and found[0].client.id == 1


def test_unrelated_names_are_not_matched() -> None:
    found = find_clients("Volkov", CLIENTS)
    assert 2 not in {m.client.id for m in found}
    assert find_clients("Петренко", CLIENTS) == []


def test_latin_query_finds_cyrillic_digraph_names() -> None:
    assert [m.client.id for m in find_clients("Shchukin", CLIENTS)] == [3]
    assert [m.client.id for m in find_clients("Schukin", CLIENTS)] == [3]


def test_external_id_and_hash_id_match_exactly() -> None:
    assert [m.client.id for m in find_clients("c-0002", CLIENTS)] == [2]
    assert [m.client.id for m in find_clients("#4", CLIENTS)] == [4]
    assert find_clients("   ", CLIENTS) == []
