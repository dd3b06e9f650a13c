"""`aplypro-asp-gateway read-return FILE`: one JSON object per line read, exit 2 with one line on stderr for a
file it cannot read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from aplypro_asp_gateway.entrypoints.cli import app
from typer.testing import CliRunner

from .return_samples import (
    CORRECTION_UPLOAD,
    DOC_INTEGRATION_LINE,
    DOC_PAYMENTS,
    DOC_RECOVERY,
    DOC_REJECT_LINE,
    INTEGRATIONS_HEADER,
    PAYMENTS_NAME,
    RECOVERY_NAME,
    REJECTS_HEADER,
    REJECTS_NAME,
    csv_file,
)

KEYS = {"kind", "record_id", "numadm", "state", "reason_code", "reason"}


def run(path: Path) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(app, ["read-return", str(path)])
    return result.exit_code, [json.loads(x) for x in result.stdout.splitlines()], result.stderr


def test_a_payments_return_prints_one_json_line_per_record_with_cents_and_no_iban(tmp_path: Path) -> None:
    path = tmp_path / PAYMENTS_NAME
    path.write_bytes(DOC_PAYMENTS)

    code, lines, err = run(path)

    assert (code, err) == (0, "")
    assert all(KEYS <= set(line) for line in lines)
    paid, unpaid = lines
    assert {k: paid[k] for k in (*KEYS, "net_cents", "paid_on")} == {
        "kind": "payments", "record_id": None, "numadm": None, "state": "paid", "reason_code": None,
        "reason": None, "net_cents": 30000, "paid_on": "2026-06-05"}
    assert paid["asp_ids"] == {"prestation": "9876610"}
    assert (unpaid["state"], unpaid["reason_code"], unpaid["asp_code"]) == ("unpaid", "payment_difficulty", "RJT")
    assert "net_cents" not in unpaid
    assert "30006000011234567890189" not in json.dumps(lines)


def test_a_rejects_return_prints_the_reason_key_and_french_words(tmp_path: Path) -> None:
    path = tmp_path / REJECTS_NAME
    path.write_bytes(csv_file(REJECTS_HEADER, [DOC_REJECT_LINE, "4243;;;Le RIB FR7630006000011234567890189 "
                                                                "est Invalide;"], encoding="latin-1"))

    code, lines, _ = run(path)

    assert code == 0
    assert [(x["kind"], x["record_id"], x["state"], x["reason_code"]) for x in lines] == [
        ("rejects", 4242, "rejected", "numadm_not_unique"), ("rejects", 4243, "rejected", "invalid_rib")]
    assert lines[1]["reason"] == "les coordonnées bancaires sont invalides"
    assert "FR7630006000011234567890189" not in json.dumps(lines)  # the ASP's text is not printed


def test_a_recovery_return_prints_the_claimed_amount_in_cents(tmp_path: Path) -> None:
    path = tmp_path / RECOVERY_NAME
    path.write_bytes(DOC_RECOVERY)

    code, [line], _ = run(path)

    assert (code, line["state"], line["claimed_cents"], line["order_posted_on"]) == (0, "recovery", 15000,
                                                                                   "2026-06-12")


def test_files_it_cannot_read_exit_2_with_one_line_on_stderr(tmp_path: Path) -> None:
    truncated = tmp_path / PAYMENTS_NAME
    truncated.write_bytes(DOC_PAYMENTS[:300])
    unknown = tmp_path / "notes.txt"
    unknown.write_bytes(b"bonjour\n")

    for path, expected in ((truncated, "truncated"), (unknown, "unknown_return_kind"),
                           (tmp_path / "absent.csv", "file_not_found")):
        code, lines, err = run(path)
        assert (code, lines) == (2, [])
        assert len(err.splitlines()) == 1
        assert f": {expected}: " in err
        assert err.startswith(f"read-return: cannot read {path.name}: ")


def test_the_installed_command_runs_as_its_own_process(tmp_path: Path) -> None:
    # the console script `uv run aplypro-asp-gateway` starts, without uv's sync in the way
    command = str(Path(sys.executable).parent / "aplypro-asp-gateway")
    path = tmp_path / PAYMENTS_NAME
    path.write_bytes(DOC_PAYMENTS)

    done = subprocess.run([command, "read-return", str(path)], capture_output=True, text=True, timeout=120,
                          check=False)
    cut = subprocess.run([command, "read-return", str(path) + ".missing"], capture_output=True, text=True,
                         timeout=120, check=False)

    assert done.returncode == 0
    assert [json.loads(x)["state"] for x in done.stdout.splitlines()] == ["paid", "unpaid"]
    assert cut.returncode == 2
    assert "file_not_found" in cut.stderr


def test_address_correction_answers_are_recognised_by_their_names(tmp_path: Path) -> None:
    # §3.2, §5.5: same columns as the payment answers, their own kinds; a reject's reason classified (§6.1).
    integrations = tmp_path / f"identifiants_generes_{CORRECTION_UPLOAD}.csv"
    integrations.write_bytes(csv_file(INTEGRATIONS_HEADER, [DOC_INTEGRATION_LINE]))
    rejects = tmp_path / f"rejets_integ_idp_{CORRECTION_UPLOAD}.csv"
    rejects.write_bytes(csv_file(REJECTS_HEADER, ["4242;;;Le code saisi 34999 n'existe pas dans le "
                                                  "LOCALISATIONGEOGRAPHIQUE;"]))

    code, [corrected], _ = run(integrations)
    assert code == 0
    assert (corrected["kind"], corrected["record_id"], corrected["state"]) == (
        "correction_integrations", 4242, "address_corrected")
    assert corrected["asp_ids"] == {"individual": "1234890", "dossier": "7654402", "prestation": "9876610",
                                    "prestation_numadm": "51234"}
    code, [rejected], _ = run(rejects)
    assert code == 0
    assert (rejected["kind"], rejected["state"], rejected["reason_code"]) == (
        "correction_rejects", "address_rejected", "localisationgeographique_not_found")
