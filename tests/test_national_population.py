"""bench/national_population.py makes what bench/national.py says it feeds: establishments, classes of 12 to 35,
2 PFMPs a student on average in non-overlapping periods, every ministry's MEFs in their own establishments;
and the files the services' CLIs read. No stack is started."""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from .bench_modules import bench_module


@pytest.fixture(scope="module")
def population_module() -> ModuleType:
    return bench_module("national_population")


def test_the_population_has_its_establishments_classes_and_pfmps(population_module: ModuleType) -> None:
    population = population_module.generate(6_000, 20)
    # establishments as asked, each a distinct UAI, every student in one of them
    assert len(population.schools) == 20
    assert len({s.uai for s in population.schools}) == 20
    assert len(population.students) == 6_000
    assert len({s.ine for s in population.students}) == 6_000
    # classes of 12 to 35, about 24 on average, filled exactly by their students
    sizes = [k.size for k in population.classes]
    assert min(sizes) >= 12
    assert max(sizes) <= 35
    assert 20 <= sum(sizes) / len(sizes) <= 28
    assert Counter((s.uai, s.klass) for s in population.students) == Counter(
        {(k.uai, k.label): k.size for k in population.classes})
    # 1 to 3 PFMPs a student, 2 on average, never overlapping, days within the calendar and the lowest cap
    per_student = Counter(p.ine for p in population.pfmps)
    assert set(per_student.values()) <= {1, 2, 3}
    assert len(per_student) == 6_000
    assert 1.9 <= len(population.pfmps) / 6_000 <= 2.1
    by_student: dict[str, list[tuple[date, date]]] = {}
    days: Counter[str] = Counter()
    for p in population.pfmps:
        assert p.start <= p.end
        assert 1 <= p.days <= (p.end - p.start).days + 1
        by_student.setdefault(p.ine, []).append((p.start, p.end))
        days[p.ine] += p.days
    for periods in by_student.values():
        ordered = sorted(periods)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(ordered))
    assert max(days.values()) <= 20


def test_each_class_follows_a_mef_of_its_establishments_ministry(population_module: ModuleType) -> None:
    population = population_module.generate(20_000)
    ministry = {s.uai: s.ministry for s in population.schools}
    assert len(population.schools) == round(20_000 / 225)
    assert all(k.mef.ministry == ministry[k.uai] for k in population.classes)
    # the national mix: mostly MENJ, MASA present, public and private (budget prefixes ENPU and ENPR)
    kinds = Counter((s.ministry, s.contract) for s in population.schools)
    assert kinds["MENJ", "99"] > kinds["MENJ", "30"] > 0
    assert kinds["MASA", "99"] > 0


def test_the_same_seed_gives_the_same_population(population_module: ModuleType) -> None:
    # the fake SYGNE's process regenerates it: both sides must agree
    assert population_module.generate(500, 4, seed=7) == population_module.generate(500, 4, seed=7)


def test_a_population_too_small_for_its_establishments_is_refused(population_module: ModuleType) -> None:
    with pytest.raises(population_module.PopulationTooSmall):
        population_module.generate(100, 10)


def test_the_files_hold_every_establishment_mef_rib_and_pfmp(population_module: ModuleType, tmp_path: Path) -> None:
    population = population_module.generate(300, 3)
    files = population_module.write_files(population, tmp_path)

    def rows(path: Path, delimiter: str = ";") -> list[dict[str, str]]:
        with path.open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle, delimiter=delimiter))

    assert [r["uai"] for r in rows(files.establishments)] == [s.uai for s in population.schools]
    assert {r["MEF"] for r in rows(files.mefs, ",")} >= {s.mef for s in population.students}
    assert all(len(r["MEF"]) == 11 for r in rows(files.mefs, ","))
    assert len(rows(files.ribs)) == 300
    assert len(rows(files.pfmps)) == len(population.pfmps)
