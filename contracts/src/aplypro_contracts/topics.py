"""Topic names: `aplypro.<owning service>.<aggregate or stream>`; `<topic>.dlt` holds its dead letters."""

STUDENTS_EVENTS = "aplypro.students.events"
STUDENTS_RIBS = "aplypro.students.ribs"  # restricted: bank details, read by documents, asp-gateway and calculator (ids only)
PFMP_EVENTS = "aplypro.pfmp.events"
CALCULATOR_EVENTS = "aplypro.calculator.events"
DOCUMENTS_EVENTS = "aplypro.documents.events"
ASP_EVENTS = "aplypro.asp-gateway.events"

ALL_TOPICS = (STUDENTS_EVENTS, STUDENTS_RIBS, PFMP_EVENTS, CALCULATOR_EVENTS, DOCUMENTS_EVENTS, ASP_EVENTS)


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic of a source topic."""
    return f"{topic}.dlt"
