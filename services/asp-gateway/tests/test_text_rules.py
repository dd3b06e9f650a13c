"""Transliteration, name fields and the account holder name (asp-exchange.md §4.1, §7.3)."""

from __future__ import annotations

import pytest
from aplypro_asp_gateway.domain.text import file_name_field, first_names_field, holder_name, transliterate


def test_accents_are_dropped_and_ligatures_expanded() -> None:
    assert transliterate("Léa Dupré Æsa Œuvre Straße") == "Lea Dupre AEsa OEuvre Strasse"


def test_characters_without_an_ascii_form_become_question_marks_in_names() -> None:
    assert transliterate("Иван") == "????"


@pytest.mark.parametrize(
    ("entered", "sent"),
    [
        ("O’Connell", "O'Connell"),
        ("O–Connell>>", "O-Connell"),
        ("FOO^BAR", "FOOBAR"),
        ("Some      long name", "Some long name"),
        ("Johnny 🔥 Cash", "Johnny Cash"),
        ("Mme Léa Dupré", "Mme Lea Dupre"),
        ("Dupont & Fils; SARL", "Dupont Fils SARL"),
        ("M. + Mme Martin", "M. + Mme Martin"),  # the ASP accepts `+`, unlike the existing pipeline
    ],
)
def test_holder_names_follow_the_asp_character_set(entered: str, sent: str) -> None:
    assert holder_name(entered) == sent


def test_holder_name_is_transliterated_before_it_is_cut_to_32() -> None:
    # Each Œ expands to two letters: cutting first would let the result overflow 32.
    name = holder_name("Œ" * 20)
    assert name == "OE" * 16
    assert len(name) == 32


def test_a_holder_name_without_any_latin_letter_is_empty() -> None:
    assert holder_name("李小龍") == ""


def test_first_names_are_joined_skipping_empty_ones_and_cut_to_20() -> None:
    assert first_names_field(("Léa", " ", "Marie")) == "Lea, Marie"
    assert first_names_field(("Marie-Christine", "Anne-Sophie", "Éloïse")) == "Marie-Christine, Ann"


def test_name_fields_never_carry_a_semicolon() -> None:
    assert file_name_field("Dupont;Durand", 50) == "Dupont Durand"
