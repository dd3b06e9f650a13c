"""The change events of students and schoolings (imports.md §5.2, §5.10): full state, version, what changed."""

from __future__ import annotations

import json
from pathlib import Path

import aplypro_contracts as c
import pytest
from aplypro_contracts import SchemaViolation, default_registry
from pydantic import ValidationError

FIXTURES = Path(__file__).parent / "fixtures"


def _fixture(name: str) -> dict[str, object]:
    body: dict[str, object] = json.loads((FIXTURES / name).read_bytes())
    return body


def test_an_old_student_registered_v1_is_read_as_v2_version_0_with_its_identity() -> None:
    event = default_registry().parse((FIXTURES / "StudentRegistered.v1.json").read_bytes())
    assert isinstance(event, c.StudentRegisteredV2)
    assert (event.version, event.identity.last_name) == (0, "HADDAD")


@pytest.mark.parametrize(("name", "changed"), [
    ("StudentIdentityChanged.v1.json", ["address"]),  # an address field is not an identity change
    ("StudentAddressChanged.v1.json", ["last_name"]),
    ("StudentIdentityChanged.v1.json", []),  # a change names at least one field
    ("SchoolingChanged.v1.json", ["class_label"]),  # a new class is a new schooling, never a change
])
def test_a_change_names_only_fields_of_its_kind(name: str, changed: list[str]) -> None:
    body = {**_fixture(name), "changed": changed}
    with pytest.raises(SchemaViolation) as caught:
        default_registry().parse(json.dumps(body))
    assert "changed" in str(caught.value)


def test_a_closing_carries_its_end_date_and_whether_it_was_inferred() -> None:
    body = _fixture("SchoolingClosed.v1.json")
    for missing in ("end_date", "end_date_inferred", "version"):
        with pytest.raises(SchemaViolation) as caught:
            default_registry().parse(json.dumps({**body, missing: None}))
        assert missing in str(caught.value)


def test_every_event_of_a_state_group_carries_the_full_state_of_its_first() -> None:
    fields = set(c.SchoolingOpened.model_fields) - {"event_type", "schema_version"}
    for model in (c.SchoolingChanged, c.SchoolingClosed, c.SchoolingReopened):
        assert fields <= set(model.model_fields), model.__name__
    fields = set(c.StudentRegistered.model_fields) - {"event_type", "schema_version"}
    for student_model in (c.StudentIdentityChanged, c.StudentAddressChanged):
        assert fields <= set(student_model.model_fields), student_model.__name__
    assert {t.__name__.removesuffix("V1").removesuffix("V2") for t in c.SchoolingState.__args__} == set(
        c.SCHOOLING_STATE_EVENTS)
    assert {t.__name__.removesuffix("V1").removesuffix("V2") for t in c.StudentState.__args__} == set(
        c.STUDENT_STATE_EVENTS)


def test_an_old_schooling_changed_v1_is_read_as_v2_with_its_version_and_changed_fields() -> None:
    """v2 only widens `changed` (`establishment`): a v1 message written before the upgrade still parses, as is."""
    event = default_registry().parse((FIXTURES / "SchoolingChanged.v1.json").read_bytes())
    assert isinstance(event, c.SchoolingChangedV2)
    assert (event.version, event.changed, event.establishment.name) == (2, ("start_date",), "LP Jean Jaurès")


def test_a_schooling_changed_v2_may_name_its_establishment_which_an_old_reader_refuses() -> None:
    body = _fixture("SchoolingChanged.v2.json")
    event = default_registry().parse(json.dumps(body))
    assert isinstance(event, c.SchoolingChanged)
    assert (event.changed, event.establishment.city_insee) == (("establishment",), "35238")
    with pytest.raises(ValidationError):  # why it is a new version: v1's model (old readers) has no such field
        c.SchoolingChangedV1.model_validate({**body, "schema_version": 1})
