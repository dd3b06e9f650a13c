"""What a spawned child imports before its own work. Each child of a service (relay, extra consumer
processes, render workers) runs the console script again: the script must not import the CLI, and a
documents consumer process must not load the renderer (weasyprint, seconds of CPU at each start, which
the drill's restarts pay many times over)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SERVICES = ["aplypro_students", "aplypro_pfmp", "aplypro_calculator", "aplypro_documents", "aplypro_asp_gateway"]


def modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("package", SERVICES)
def test_the_console_script_target_imports_no_cli(package: str) -> None:
    loaded = modules_after(f"from {package}.__main__ import main")
    assert f"{package}.entrypoints.cli" not in loaded
    assert not {"typer", "faststream", "asyncpg"} & loaded


def test_a_documents_consumer_process_does_not_load_the_renderer() -> None:
    loaded = modules_after("from aplypro_documents.entrypoints.service import build_spec\n"
                           "from aplypro_documents.config import DocumentsSettings\n"
                           "build_spec(DocumentsSettings(database_url='postgresql://x/y'))")
    assert "aplypro_documents.service_layer.projection" in loaded  # what a consumer needs is there
    assert not {"weasyprint", "boto3", "pypdf"} & loaded


def test_the_rendering_names_still_load_on_use() -> None:
    loaded = modules_after("from aplypro_documents.rendering import render_one, to_payload\n"
                           "assert callable(render_one) and callable(to_payload)")
    assert "weasyprint" in loaded
