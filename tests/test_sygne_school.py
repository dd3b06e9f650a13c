"""The school `aplypro demo` and `aplypro up` import from the fake SYGNE: over real HTTP, through the
students service's `import-sygne`, into the real database (issue 13: "the demo and aplypro up import at
least one establishment through the SYGNE fake")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aplypro_local.school import SCHOOL_YEAR, SYGNE_UAI, generate_school
from aplypro_local.stack import LocalStack
from aplypro_local.sygne_school import fake_sygne_for, import_line, import_sygne_school

pytestmark = pytest.mark.integration


def test_the_sygne_school_is_imported_from_the_fake_over_http_once(service_env: dict[str, str], tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "stack", extra_env=service_env)
    stack.start_servers()  # the given broker and database: nothing started here
    try:
        reference = generate_school(tmp_path / "school", 1)
        loaded = {}
        for args in reference.reference_commands():  # what the demo and `aplypro up` run, in that order
            done = stack.run_command(args)
            assert done.returncode == 0, done.stderr[-2000:]
            loaded[args[1]] = json.loads(done.stdout.strip().splitlines()[-1])
        assert list(loaded) == ["load-establishments", "load-mefs", "load-calendar"]
        assert loaded["load-calendar"]["academies"] > 0
        assert loaded["load-calendar"]["school_years"] > 0
        with fake_sygne_for(stack) as sygne:
            first = import_sygne_school(stack)
            again = import_sygne_school(stack)
            assert stack.env["APLYPRO_SYGNE_BASE_URL"] == sygne.base_url
        assert (first["source"], first["uai"], first["school_year"]) == ("sygne", SYGNE_UAI, SCHOOL_YEAR)
        assert first["students"] >= 3
        assert first["schoolings_opened"] >= 3
        assert first["skipped"] or first["errors"]  # the sample's awkward students are set aside, not imported
        assert again["schoolings_opened"] == 0  # the same answer again changes nothing
        assert again["unchanged"] >= first["schoolings_opened"]
        line = import_line(first)
        assert line.startswith(f"{first['students']} students, {first['schoolings_opened']} schoolings opened")
        assert "000111" not in line  # reasons counted, never an INE
    finally:
        stack.stop()
