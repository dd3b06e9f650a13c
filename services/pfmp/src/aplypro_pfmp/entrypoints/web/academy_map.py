"""The map by academy (features.md §4: public `/stats`, academic home): a schematic map drawn inline as SVG,
so that it needs no network (no map tiles) and no JavaScript.

No outline of the academies under a free licence ships with the project, so each academy is one labelled
square placed roughly where it lies (a tile map), the overseas academies in a row of their own. Each tile is
coloured by its value in four classes of the largest value (a legend says which), grey when it has none. Pages
show the table of the same values beside it: the accessible alternative. Pure: the caller supplies values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Academy code -> (name, short label on the tile, column, row). The codes features.md §5 lists (35); Caen (05) and
# Rouen (21) kept beside Normandie (70), which replaced them, since older school years still carry them.
ACADEMIES: dict[str, tuple[str, str, int, int]] = {
    "70": ("Normandie", "Normandie", 1, 0), "21": ("Rouen", "Rouen", 2, 0), "20": ("Amiens", "Amiens", 3, 0),
    "09": ("Lille", "Lille", 4, 0),
    "05": ("Caen", "Caen", 1, 1), "25": ("Versailles", "Versailles", 2, 1), "01": ("Paris", "Paris", 3, 1),
    "19": ("Reims", "Reims", 4, 1), "12": ("Nancy-Metz", "Nancy-Metz", 5, 1), "15": ("Strasbourg", "Strasbourg", 6, 1),
    "14": ("Rennes", "Rennes", 0, 2), "17": ("Nantes", "Nantes", 1, 2), "18": ("Orléans-Tours", "Orléans-Tours", 2, 2),
    "24": ("Créteil", "Créteil", 3, 2), "07": ("Dijon", "Dijon", 4, 2), "03": ("Besançon", "Besançon", 5, 2),
    "13": ("Poitiers", "Poitiers", 1, 3), "22": ("Limoges", "Limoges", 2, 3),
    "06": ("Clermont-Ferrand", "Clermont-Fd", 3, 3), "10": ("Lyon", "Lyon", 4, 3), "08": ("Grenoble", "Grenoble", 5, 3),
    "04": ("Bordeaux", "Bordeaux", 1, 4), "16": ("Toulouse", "Toulouse", 2, 4), "11": ("Montpellier", "Montpellier", 3, 4),
    "02": ("Aix-Marseille", "Aix-Marseille", 4, 4), "23": ("Nice", "Nice", 5, 4), "27": ("Corse", "Corse", 6, 5),
    "32": ("Guadeloupe", "Guadeloupe", 0, 6), "31": ("Martinique", "Martinique", 1, 6), "33": ("Guyane", "Guyane", 2, 6),
    "28": ("La Réunion", "La Réunion", 3, 6), "43": ("Mayotte", "Mayotte", 4, 6),
    "44": ("Saint-Pierre-et-Miquelon", "St-Pierre-et-M.", 5, 6), "40": ("Nouvelle-Calédonie", "N.-Calédonie", 6, 6),
    "41": ("Polynésie française", "Polynésie fr.", 7, 6),
}
TILE, GAP, OVERSEAS_GAP = 100, 6, 24  # pixels of the viewBox; the overseas row sits a little apart
WIDTH = 8 * (TILE + GAP) - GAP
HEIGHT = 7 * (TILE * 3 // 5 + GAP) - GAP + OVERSEAS_GAP
# DSFR blue-france scale, light to dark, and the text colour readable on each (contrast at least 4.5:1)
CLASSES = (("#e3e3fd", "#161616"), ("#adadf9", "#161616"), ("#6a6af4", "#ffffff"), ("#000091", "#ffffff"))
EMPTY = ("#eeeeee", "#3a3a3a")


@dataclass(frozen=True)
class Tile:
    code: str
    name: str
    label: str
    x: int
    y: int
    width: int
    height: int
    value: int | None  # None: nothing known for this academy (or outside the user's scope)
    shown: str  # the value as the page writes it
    fill: str
    ink: str
    href: str | None  # the academy's page, where the user may open it


@dataclass(frozen=True)
class Legend:
    fill: str
    label: str


@dataclass(frozen=True)
class AcademyMap:
    title: str
    tiles: tuple[Tile, ...]
    legend: tuple[Legend, ...]
    width: int = WIDTH
    height: int = HEIGHT


def class_of(value: int, largest: int) -> int:
    """0..3: the quarter of the largest value `value` falls in (0 for a zero value)."""
    if largest <= 0 or value <= 0:
        return 0
    return min(3, (4 * value - 1) // largest)


def academy_map(title: str, values: Mapping[str, int], shown: Callable[[int], str], *,
                href: Callable[[str], str] | None = None) -> AcademyMap:
    """The tiles of every academy, coloured by `values` (academy code -> value; absent: no data). Codes
    without a place on the map (none given, unknown) are left to the table beside it."""
    largest = max((v for code, v in values.items() if code in ACADEMIES), default=0)
    tiles = []
    for code, (name, label, column, row) in ACADEMIES.items():
        height = TILE * 3 // 5
        x, y = column * (TILE + GAP), row * (height + GAP) + (OVERSEAS_GAP if row == 6 else 0)
        value = values.get(code)
        fill, ink = EMPTY if value is None else CLASSES[class_of(value, largest)]
        tiles.append(Tile(code, name, label, x, y, TILE, height, value, "—" if value is None else shown(value),
                          fill, ink, href(code) if href is not None and value is not None else None))
    return AcademyMap(title, tuple(tiles), legend(largest, shown))


def legend(largest: int, shown: Callable[[int], str]) -> tuple[Legend, ...]:
    """The classes as ranges of values (up to a quarter, a half, three quarters, all of the largest); a class
    no value can fall in (small whole numbers: 1 has no quarter) is left out."""
    if largest <= 0:
        return (Legend(CLASSES[0][0], "0"), Legend(EMPTY[0], "aucune donnée"))
    bounds = [largest * quarter // 4 for quarter in (1, 2, 3, 4)]
    items = [Legend(CLASSES[0][0], f"jusqu'à {shown(bounds[0])}")]
    items += [Legend(CLASSES[i][0], f"plus de {shown(bounds[i - 1])}, jusqu'à {shown(bounds[i])}")
              for i in (1, 2, 3) if bounds[i] > bounds[i - 1]]
    return (*items, Legend(EMPTY[0], "aucune donnée"))
