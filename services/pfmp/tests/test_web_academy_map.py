"""The map by academy (features.md §4): the public /stats shows schoolings and validated amounts per academy on
a schematic inline SVG map (no network: no tile, no script), with the table of the same values beside it; the
academic home and academy page show the amount paid in the user's academies only, each linking to its page."""

from __future__ import annotations

import re

import asyncpg
import pytest
from aplypro_pfmp.entrypoints.web.academy_map import ACADEMIES, CLASSES, EMPTY, academy_map, class_of
from starlette.testclient import TestClient

from .test_web_other_roles import academy, client  # noqa: F401  (fixtures)
from .web_world import Seeded, login

FEATURES_CODES = {f"{n:02d}" for n in range(1, 26)} | {"27", "28", "31", "32", "33", "40", "41", "43", "44", "70"}


def test_every_academy_has_one_tile_and_no_two_overlap() -> None:
    assert set(ACADEMIES) == FEATURES_CODES  # the codes features.md §5 lists (35, though it says 34)
    drawn = academy_map("t", {}, str)
    assert len({(t.x, t.y) for t in drawn.tiles}) == len(FEATURES_CODES)
    assert all(0 <= t.x <= drawn.width - t.width and 0 <= t.y <= drawn.height - t.height for t in drawn.tiles)
    assert {t.fill for t in drawn.tiles} == {EMPTY[0]}  # nothing known: all grey, no link
    assert all(t.href is None and t.shown == "—" for t in drawn.tiles)


def test_tiles_are_coloured_by_quarter_of_the_largest_value_as_the_legend_says() -> None:
    assert [class_of(v, 100) for v in (0, 1, 25, 26, 50, 51, 75, 76, 100)] == [0, 0, 0, 1, 1, 2, 2, 3, 3]
    drawn = academy_map("Scolarités", {"14": 100, "15": 30, "01": 0, "": 7, "99": 500}, str,
                        href=lambda code: f"/academie/{code}")
    tiles = {t.code: t for t in drawn.tiles}
    assert (tiles["14"].fill, tiles["15"].fill, tiles["01"].fill) == (CLASSES[3][0], CLASSES[1][0], CLASSES[0][0])
    assert tiles["14"].href == "/academie/14"
    assert tiles["02"].fill == EMPTY[0]
    assert tiles["02"].href is None  # no data: nothing to open
    # Codes with no place on the map (none given, unknown) neither get a tile nor stretch the scale
    assert [item.label for item in drawn.legend] == [
        "jusqu'à 25", "plus de 25, jusqu'à 50", "plus de 50, jusqu'à 75", "plus de 75, jusqu'à 100", "aucune donnée"]
    # Small whole numbers: no empty class in the legend (a largest value of 1 has no quarter)
    assert [item.label for item in academy_map("t", {"14": 1}, str).legend] == [
        "jusqu'à 0", "plus de 0, jusqu'à 1", "aucune donnée"]


def tile(page: str, map_id: str, code: str) -> dict[str, str]:
    """The data attributes, fill and link of an academy's tile in one map of the page."""
    figure = re.search(rf'<figure[^>]*data-testid="{map_id}".*?</figure>', page, re.S)
    assert figure is not None, map_id
    found = re.search(rf'(<a href="([^"]*)"[^>]*>\s*)?<g data-academy="{code}" data-value="([^"]*)".*?fill="([^"]+)"',
                      figure.group(0), re.S)
    assert found is not None, code
    return {"href": found.group(2) or "", "value": found.group(3), "fill": found.group(4)}


async def every_pfmp_priced(pool: asyncpg.Pool, cents: int) -> None:
    """The calculator's amount for every PFMP of the academy fixture (the paid requests' amount too)."""
    await pool.execute("INSERT INTO pfmp_amounts SELECT pfmp_id, $1, now() FROM pfmps", cents)


@pytest.mark.integration
async def test_the_public_stats_map_shows_schoolings_and_validated_amounts_by_academy_without_network(
        client: TestClient, academy: dict[str, Seeded], pool: asyncpg.Pool) -> None:  # noqa: F811
    await every_pfmp_priced(pool, 10000)  # academy 14: two validated PFMPs, academy 15: one
    page = client.get("/stats")  # no login
    assert page.status_code == 200
    assert tile(page.text, "carte-scolarites", "14") == {"href": "", "value": "3", "fill": CLASSES[3][0]}
    assert tile(page.text, "carte-scolarites", "15") == {"href": "", "value": "1", "fill": CLASSES[1][0]}
    assert tile(page.text, "carte-scolarites", "01")["fill"] == EMPTY[0]
    assert tile(page.text, "carte-montants", "14") == {"href": "", "value": "20000", "fill": CLASSES[3][0]}
    assert tile(page.text, "carte-montants", "15") == {"href": "", "value": "10000", "fill": CLASSES[1][0]}
    assert "Académie Rennes (14) : 200,00\u00a0€" in page.text
    assert "Académie Strasbourg (15) : 100,00\u00a0€" in page.text
    # The accessible alternative: the table the maps point to, with the same values
    assert 'href="#table-academies"' in page.text
    assert '<table id="table-academies"' in page.text
    # Nothing from the network: every link and resource is the application's own
    assert set(re.findall(r'(?:src|href)="((?:https?:)?//[^/"]*)', page.text)) <= {"https://testserver"}
    assert 'rel="stylesheet" href="https://testserver/static/app/academy-map.css"' in page.text
    assert client.get("/static/app/academy-map.css").status_code == 200


@pytest.mark.integration
async def test_the_academic_map_shows_the_amount_paid_in_the_user_s_academies_only(
        client: TestClient, academy: dict[str, Seeded], pool: asyncpg.Pool) -> None:  # noqa: F811
    await every_pfmp_priced(pool, 20000)  # academy 14 and 15: one paid request each
    page = login(client, "academique")  # academy 14 only: lands on its page
    assert page.url.path == "/academie/14"
    own = tile(page.text, "carte-paye", "14")
    assert own["href"] == "https://testserver/academie/14?annee=2025"
    assert own["value"] == "20000"
    assert own_paid(page.text) == 20000  # the table beside says the same
    # Another academy's figures are not shown to them (grey, no value, no link)
    assert tile(page.text, "carte-paye", "15") == {"href": "", "value": "", "fill": EMPTY[0]}
    assert 'data-testid="paid-by-academy"' in page.text
    assert '/academie/15"' not in page.text


def own_paid(page: str) -> int:
    """The amount paid in academy 14 as its table beside the map says it, in cents."""
    row = re.search(r'<th scope="row"><a[^>]*>14</a></th>\s*<td>\d+</td><td class="amount">([\d\u202f]+),(\d\d)',
                    page)
    assert row is not None
    return int(row.group(1).replace("\u202f", "")) * 100 + int(row.group(2))


@pytest.mark.integration
async def test_the_national_admin_s_home_maps_every_academy_and_others_are_refused(
        client: TestClient, academy: dict[str, Seeded], pool: asyncpg.Pool) -> None:  # noqa: F811
    await every_pfmp_priced(pool, 20000)
    home = login(client, "national")
    assert home.url.path == "/academie"
    assert tile(home.text, "carte-paye", "14")["href"] == "https://testserver/academie/14?annee=2025"
    assert tile(home.text, "carte-paye", "15") == {
        "href": "https://testserver/academie/15?annee=2025", "value": "20000", "fill": CLASSES[3][0]}
    assert tile(home.text, "carte-paye", "02")["fill"] == EMPTY[0]
    client.cookies.clear()
    login(client, "directrice")
    assert client.get("/academie").status_code == 403  # staff reach no academic page, map included
