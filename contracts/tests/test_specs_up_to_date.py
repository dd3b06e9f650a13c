"""The committed JSON Schemas and AsyncAPI document match the contracts (regenerate: `uv run aplypro specs`)."""

from __future__ import annotations

from pathlib import Path

from aplypro_local.specs import asyncapi_document, json_schemas

ROOT = Path(__file__).resolve().parents[2]


def test_json_schemas_are_up_to_date() -> None:
    for name, text in json_schemas().items():
        path = ROOT / "contracts" / "schemas" / name
        assert path.exists(), f"{name} missing: run `uv run aplypro specs`"
        assert path.read_text(encoding="utf-8") == text, f"{name} is stale: run `uv run aplypro specs`"


def test_asyncapi_document_is_up_to_date() -> None:
    path = ROOT / "docs" / "asyncapi.json"
    assert path.read_text(encoding="utf-8") == asyncapi_document(), "stale: run `uv run aplypro specs`"
