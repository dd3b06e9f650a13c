"""The layering and service-independence rules of pyproject's [tool.importlinter] hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_rules_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is not installed"
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_consumer_of_students_events_handles_every_state_event_of_what_it_follows() -> None:
    """A reader of SchoolingOpened that did not handle SchoolingClosed would skip it silently (the consumer ignores
    the types it has no handler for): a closing would be lost. Likewise for identity corrections, and for a RIB's
    status (a reader of RibOnFile would miss RibStatusChanged, and a RIB lost)."""
    from aplypro_contracts import RIB_STATUS_EVENTS, SCHOOLING_STATE_EVENTS, STUDENT_STATE_EVENTS
    from aplypro_contracts.topics import STUDENTS_EVENTS

    from .manifest_acls import specs

    followed = 0
    for name, spec in specs().items():
        for sub in spec.subscriptions:
            if STUDENTS_EVENTS not in sub.topics:
                continue
            for group in (STUDENT_STATE_EVENTS, SCHOOLING_STATE_EVENTS, RIB_STATUS_EVENTS):
                if group[0] in sub.handlers:
                    followed += 1
                    missing = [t for t in group if t not in sub.handlers]
                    assert not missing, f"{name}.{sub.consumer_name} ignores {missing}"
                    assert len({sub.handlers[t] for t in group}) == 1, f"{name}: one handler per state group"
    assert followed == 9  # pfmp, calculator, documents, asp-gateway: students and schoolings each; pfmp: RIBs


def test_a_reader_of_decisions_takes_them_from_their_issue() -> None:
    """A DA exists from its issue (issue 12): a subscription that acts on DocumentReady handles DocumentIssued
    with the same handler, so no payment waits for the renderer (the consumer ignores a type it has no handler
    for: the DA would silently wait for its PDF again). The students service's money facts too: a payment may
    leave from the issue, so a retraction must be refused from it."""
    from .manifest_acls import specs

    readers = []
    for name, spec in specs().items():
        for sub in spec.subscriptions:
            if "DocumentReady" not in sub.handlers:
                continue
            readers.append(name)
            assert "DocumentIssued" in sub.handlers, f"{name}.{sub.consumer_name} waits for the PDF"
            assert sub.handlers["DocumentIssued"] == sub.handlers["DocumentReady"], f"{name}: one handler"
    assert sorted(readers) == ["asp-gateway", "calculator", "pfmp", "students"]


def test_a_reader_of_the_gateways_single_events_reads_their_groups() -> None:
    """The asp-gateway publishes a payment file's moves as PaymentRequestsMoved groups (issue 12): a subscription
    that handles one of the single events a group stands for handles the group too, or it would skip the group
    silently (the consumer ignores the types it has no handler for) and with it every request's move."""
    from .manifest_acls import specs

    singles = ("PaymentRequestHeld", "PaymentRequestSent", "PaymentRequestStateChanged")
    readers = []
    for name, spec in specs().items():
        for sub in spec.subscriptions:
            if any(t in sub.handlers for t in singles):
                readers.append(f"{name}.{sub.consumer_name}")
                assert "PaymentRequestsMoved" in sub.handlers, f"{name}.{sub.consumer_name} skips the groups"
    assert sorted(readers) == ["calculator.pricing", "pfmp.payment-facts", "students.money-facts"]
