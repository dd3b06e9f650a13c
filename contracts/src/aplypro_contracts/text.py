"""Text types of the contracts: every free-text field refuses control characters and has a maximum length.

A C0 control character (U+0000–U+001F) or DEL (U+007F) in a name or label has no legitimate use in
APLyPro, and one of them is enough to make a whole payment file fail in lxml (issue 9, "Poison stays
local"). The limits are the ones the CSV imports apply to the same fields, so a row the import accepts
always makes a valid event. Codes keep their own, stricter patterns.

A message written before these limits that breaks one of them (an old v1 event with a control
character) fails validation like any other schema violation: the consumer dead-letters it with reason
`schema_violation` and goes on; it is never repaired silently.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

PERSON_NAME_MAX = 100  # last name, first names, holder and director names
LABEL_MAX = 200  # address lines, cities, establishment and class labels, ids and codes without a pattern
FREE_TEXT_MAX = 500  # anything longer: legal references, explanation steps, storage references

# Any character but C0 controls and DEL. Rust regex (pydantic's engine): `$` is the very end of the text.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1F\x7F]*$"

PersonName = Annotated[str, StringConstraints(max_length=PERSON_NAME_MAX, pattern=NO_CONTROL_CHARACTERS)]
Label = Annotated[str, StringConstraints(max_length=LABEL_MAX, pattern=NO_CONTROL_CHARACTERS)]
FreeText = Annotated[str, StringConstraints(max_length=FREE_TEXT_MAX, pattern=NO_CONTROL_CHARACTERS)]

AggregateVersion = Annotated[int, Field(
    ge=0,
    description="Version of the aggregate this event is about: it grows with each change of that aggregate "
    "(the owner's version column, incremented in the same transaction). A consumer applies the event only "
    "if it is newer than what it holds. 0: a v1 message upcast, older than any versioned event.")]
