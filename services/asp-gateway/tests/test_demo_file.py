"""`aplypro-asp-gateway demo-file`: a payment file of generated requests, every variant, through the real
builder and our XSD; a JSON summary; exit 1 when the file would not validate."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.entrypoints import demo_file
from aplypro_asp_gateway.entrypoints.cli import app
from lxml import etree
from typer.testing import CliRunner

from .conftest import NS


def test_the_demo_file_mixes_every_variant_and_validates(tmp_path: Path) -> None:
    out = tmp_path / "demo.xml"

    result = CliRunner().invoke(app, ["demo-file", "--count", "60", "--out", str(out)])

    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    summary = json.loads(line)
    assert (summary["valid"], summary["records"], summary["blocked"]) == (True, 60, {})
    assert set(summary["variants"]) == {"first_payment", "rectification_up", "rectification_down", "cancellation"}
    assert set(summary["addresses"]) == {"France", "Etranger", "InduFrance", "InduEtranger"}
    content = out.read_bytes()
    assert summary["bytes"] == len(content)
    assert summary["seconds"] >= 0
    assert xsd.violations(content) == []
    root = etree.fromstring(content)
    records = root.findall("f:ENREGISTREMENTS/f:ENREGISTREMENT", NS)
    assert len(records) == 60
    # Modifications carry the ids; long names were cut after transliteration; all of it is ASCII.
    assert sum(1 for r in records if r.find("f:INDIVIDU", NS).get("idIndividu")) == sum(
        n for v, n in summary["variants"].items() if v != "first_payment")
    assert any(len(r.findtext(".//f:NOMUSAGE", namespaces=NS)) == 50 for r in records)
    assert any(r.findtext(".//f:MTTOTALFINANCEMENT", namespaces=NS) == "0" for r in records)
    assert content.isascii()


def test_the_same_seed_makes_the_same_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    assert demo_file.run(12, first, seed=7)[0]
    assert demo_file.run(12, second, seed=7)[0]
    assert first.read_bytes() == second.read_bytes()


def test_a_demo_file_that_does_not_validate_exits_non_zero_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user code with a lower-case q breaks the schema's PARAMETRAGE: the whole file is refused.
    monkeypatch.setattr(demo_file, "PARAMS", replace(demo_file.PARAMS, user_code="quality"))
    out = tmp_path / "demo.xml"

    result = CliRunner().invoke(app, ["demo-file", "--count", "5", "--out", str(out)])

    assert result.exit_code == 1
    assert json.loads(result.stdout)["valid"] is False
    assert not out.exists()


def test_a_demo_request_a_check_refuses_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No unité de suivi for any programme: every record is blocked, so the file cannot be the demo's.
    monkeypatch.setattr(demo_file, "PARAMS", replace(demo_file.PARAMS, unites_suivi={}))
    valid, summary = demo_file.run(5, tmp_path / "demo.xml")
    assert not valid
    assert summary["blocked"] == {"bop_without_unite_suivi": 5}
