"""Payment-file names are never reused, and files appear in the folder whole or not at all (§3.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aplypro_asp_gateway.adapters.file_drop import (
    latest_on_disk,
    next_name,
    payment_file_name,
    stamp_of,
    write_atomically,
)

NOW = datetime(2026, 5, 20, 1, 30, 0, 123456, tzinfo=UTC)


def test_the_name_follows_the_asp_pattern() -> None:
    assert payment_file_name("aplypro_test_dev", NOW) == "nps_ficimport_idp_aplypro_test_dev_20260520013000.xml"
    assert stamp_of("nps_ficimport_idp_aplypro_test_dev_20260520013000.xml") == NOW.replace(microsecond=0)
    assert stamp_of("rejets_integ_idp_x.csv") is None


def test_a_clash_bumps_the_name_one_second_past_the_latest() -> None:
    latest = NOW.replace(microsecond=0)
    assert next_name("t", NOW, latest) == "nps_ficimport_idp_t_20260520013001.xml"
    assert next_name("t", NOW, latest + timedelta(seconds=5)) == "nps_ficimport_idp_t_20260520013006.xml"
    assert next_name("t", NOW, latest - timedelta(seconds=1)) == "nps_ficimport_idp_t_20260520013000.xml"


def test_files_are_written_through_a_hidden_part_file(tmp_path: Path) -> None:
    path = write_atomically(tmp_path / "outbox", "nps_ficimport_idp_t_20260520013000.xml", b"<FICHIER/>")
    assert path.read_bytes() == b"<FICHIER/>"
    assert sorted(p.name for p in path.parent.iterdir()) == ["nps_ficimport_idp_t_20260520013000.xml"]
    assert latest_on_disk(path.parent, "t") == NOW.replace(microsecond=0)
    assert latest_on_disk(tmp_path / "missing", "t") is None
