"""The shared catalog of blocking reasons: every key of lifecycles.md §4 has words, and every key a contract
can carry too."""

from __future__ import annotations

from typing import get_args

from aplypro_contracts.calculator import BlockingReasonV5
from aplypro_contracts.reasons import REASONS, describe

# lifecycles.md §4, rows 1–23 in order, then the parking reason without a number.
SECTION_4 = ("missing_biological_sex", "ine_not_found", "missing_birthplace_country_insee_code",
             "missing_birthplace_city_insee_code", "unusable_birthplace_country_insee_code",
             "missing_address_country_code", "missing_address_postal_code", "missing_address_city_insee_code",
             "pfmp", "pfmp_amount", "pfmp_outside_schooling_dates", "overlaps", "missing_attributive_decision",
             "needs_abrogated_attributive_decision", "attributive_decision_cancelled", "missing_rib", "rib",
             "adult_wrong_owner_type", "student_type", "excluded_schooling", "negative_rectification",
             "mef_without_bareme", "malformed_country_code")


def test_every_row_of_section_4_has_words_and_its_row_number() -> None:
    for row, key in enumerate(SECTION_4, start=1):
        assert REASONS[key].row == row, key
    assert REASONS["funding_unavailable"].parking


def test_every_entry_says_what_blocks_and_what_to_do() -> None:
    for key, text in REASONS.items():
        assert text.key == key
        assert text.blocks, key
        assert text.todo, key
        assert not text.blocks.endswith("."), key  # line() adds the stop
        assert not text.todo.endswith("."), key


def test_every_reason_the_calculator_can_publish_has_words() -> None:
    assert set(get_args(BlockingReasonV5)) <= set(REASONS)


def test_a_key_unknown_to_this_version_still_shows() -> None:
    text = describe("from_a_newer_producer")
    assert text.key == "from_a_newer_producer"
    assert "contact support" in text.line()
