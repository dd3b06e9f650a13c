"""Shared test data of the students service: sample files and a writer for variants of them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

DATA = Path(__file__).parent / "data"
UAI = "0999001K"
HEADER = ("annee_scolaire;ine;nom;prenoms;date_naissance;sexe;commune_naissance_insee;pays_naissance_insee;"
          "adresse_ligne1;code_postal;commune_residence_insee;commune_residence;pays_residence_insee;classe;"
          "code_mef;statut;date_debut;date_fin")
GOOD_ROW = ("2025-2026;000111223AB;HADDAD;Mehdi;2007-11-02;M;35238;99100;8 rue Pasteur;35000;35238;RENNES;99100;"
            "TLE PRO MELEC;2473121133;scolaire;2025-09-01;")


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Writes lines (header first) to a fresh file and returns its path."""
    counter = iter(range(1_000))

    def write(*lines: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / f"file{next(counter)}.csv"
        path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
        return path

    return write


@pytest.fixture
def cli(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    handlers = logging.getLogger().handlers[:]
    yield CliRunner()
    # the commands configure logging on the runner's streams; later tests must not write to closed ones
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers
