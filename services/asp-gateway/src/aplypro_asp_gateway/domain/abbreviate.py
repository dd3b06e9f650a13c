"""Address abbreviation (asp-exchange.md §7.5) with the ASP's two tables (Appendix A, byte for byte).

`abbreviate(text, limit)` leaves a line that fits unchanged; a longer one is normalised (ASCII upper case,
punctuation as spaces) and its whole words replaced, longest table entries first, one entry after the other
on the running text. Nothing is cut: a line still too long is the caller's to refuse (the record is blocked).
"""

from __future__ import annotations

import re
import unicodedata

# Road types: CODETYPEVOIE, and our second pass on street lines (§7.5 "SHOULD first try the road-type table").
ROAD_TYPES: dict[str, str] = {
    "ANCIEN CHEMIN": "ACH", "AERODROME": "AER", "AGGLOMERATION": "AGL", "AIRE": "AIRE", "ALLEE": "ALL",
    "ANCIENNE ROUTE": "ART", "AVENUE": "AV", "BOULEVARD": "BD", "BEGUINAGE": "BEGI", "BOURG": "BRG",
    "CARREFOUR": "CAR", "CENTRE COMMERCIAL": "CCAL", "CHEMIN": "CHEM", "CHAUSSEE": "CHS", "CHATEAU": "CHT",
    "CHEMIN VICINAL": "CHV", "CITE": "CITE", "CLOS": "CLOS", "CORNICHE": "COR", "COTEAUX": "COTE", "COUR": "COUR",
    "CAMPING": "CPG", "COURS": "CRS", "CONTOUR": "CTR", "CENTRE": "CTRE", "DOMAINE": "DOM", "DESCENTE": "DSC",
    "ECLUSE": "ECL", "ESCALIER": "ESC", "ESPLANADE": "ESP", "ESPACE": "ESPA", "FAUBOURG": "FG", "FONTAINE": "FON",
    "FERME": "FRM", "GALERIE": "GAL", "GARE": "GARE", "GRAND BOULEVARD": "GBD", "GRANDE PLACE": "GPL",
    "GRANDE RUE": "GR", "GRILLE": "GRI", "HAMEAU": "HAM", "IMMEUBLE": "IMM", "IMMEUBLES": "IMM", "IMPASSE": "IMP",
    "JARDIN": "JARD", "LIEU DIT": "LD", "LOTISSEMENT": "LOT", "MAIL": "MAIL", "MAISON": "MAIS", "MAS": "MAS",
    "MONTEE": "MTE", "PARC": "PARC", "PASSAGE": "PAS", "PETIT CHEMIN": "PCH", "PLACE": "PL", "PLAN": "PLAN",
    "PASSERELLE": "PLE", "PONT": "PONT", "PORT": "PORT", "PROMENADE": "PROM", "PETITE ROUTE": "PRT", "PARVIS": "PRV",
    "PETITE RUE": "PTR", "PLACETTE": "PTTE", "QUAI": "QUAI", "QUARTIER": "QUAR", "REMPART": "REMP",
    "RESIDENCE": "RES", "RUELLE": "RLE", "RAMPE": "RPE", "ROND POINT": "RPT", "ROTONDE": "RTD", "ROUTE": "RTE",
    "RUE": "RUE", "SENTE": "SEN", "SENTIER": "SENT", "SQUARE": "SQ", "TERRE PLEIN": "TPL", "TRAVERSE": "TRAV",
    "VIEUX CHEMIN": "VCHE", "VENELLE": "VEN", "VILLA": "VILL", "VILLAGE": "VLGE", "VOIE": "VOIE",
    "VIEILLE ROUTE": "VTE", "ZONE DACTIVITE": "ZA", "ZONE DAMENAGEMENT CONCERTE": "ZAC",
    "ZONE DAMENAGEMENT DIFFERE": "ZAD", "ZONE INDUSTRIELLE": "ZI", "ZONE": "ZONE", "ZONE URBANISATION PRIO": "ZUP",
}

# Common words: street lines (LIBELLEVOIE, CPLTDISTRIBUTION, the foreign street fields).
COMMON_WORDS: dict[str, str] = {
    "ADJUDANT": "ADJ", "AERODROME": "AER", "AEROGARE": "AERG", "AERONAUTIQUE": "AERN", "AEROPORT": "AERP",
    "AGENCE": "AGCE", "AGRICOLE": "AGRIC", "ANCIEN": "ANC", "ANCIENNEMENT": "ANC", "APPARTEMENT": "APP",
    "APPARTEMENTS": "APP", "ARMEMENT": "ARMT", "ARRONDISSEMENT": "ARR", "ASPIRANT": "ASP", "ASSOCIATION": "ASSOC",
    "ASSURANCE": "ASSUR", "ATELIER": "AT", "BARAQUEMENT": "BRQ", "BAS": "BAS", "BASSES": "BAS", "BASSE": "BAS",
    "BATAILLON": "BTN", "BATAILLONS": "BTN", "BATIMENT": "BAT", "BATIMENTS": "BAT", "BIS": "B", "BOITE POSTALE": "BP",
    "CABINET": "CAB", "CANTON": "CANT", "CANTONAL": "CANT", "CARDINAL": "CDL", "CASE POSTALE": "CP",
    "CHAMBRE": "CHBR", "CITADELLE": "CTD", "COLLEGE": "COLL", "COLONEL": "CNL", "COLONIE": "COLO", "COMITE": "CTE",
    "COMMANDANT": "CDT", "COMMERCIAL": "CIAL", "COMMUNAL": "COM", "COMMUNAUX": "COM", "COMMUNE": "COM",
    "COMPAGNIE": "CIE", "COMPAGNON": "COMP", "COMPAGNONS": "COMP", "COOPERATIVE": "COOP", "COURSE SPECIALE": "CS",
    "CROIX": "CRX", "DELEGATION": "DELEG", "DEPARTEMENTAL": "DEP", "DEPARTEMENTAUX": "DEP", "DIRECTEUR": "DIR",
    "DIRECTION": "DIR", "DIVISION": "DIV", "DOCTEUR": "DR", "ECONOMIE": "ECO", "ECONOMIQUE": "ECO",
    "ECRIVAIN": "ECRIV", "ECRIVAINS": "ECRIV", "ENSEIGNEMENT": "ENST", "ENSEMBLE": "ENS", "ENTREE": "ENT",
    "ENTREES": "ENT", "ENTREPRISE": "ENTR", "EPOUSE": "EP", "EPOUX": "EP", "ETABLISSEMENT": "ETS",
    "ETABLISSEMENTS": "ETS", "ETAGE": "ETG", "ETAT MAJOR": "EM", "EVEQUE": "EVQ", "FACULTE": "FAC",
    "FORESTIER": "FOR", "FORET": "FOR", "FRANCAIS": "FR", "FRANCAISE": "FR", "FUSILIERS": "FUS",
    "GENDARMERIE": "GENDARMERIE", "GENERAL": "GAL", "GOUVERNEMENTAL": "GOUV", "GOUVERNEUR": "GOUV", "GRAND": "GD",
    "GRANDE": "GDE", "GRANDES": "GDES", "GRANDS": "GDS", "HAUT": "HT", "HAUTE": "HTE", "HAUTES": "HTES",
    "HAUTS": "HTS", "HOPITAL": "HOP", "HOSPITAUX": "HOP", "HOSPICE": "HOSP", "HOSPITALIER": "HOSP", "HOTEL": "HOT",
    "INFANTERIE": "INFANT", "INFERIEUR": "INF", "INFERIEURE": "INF", "INGENIEUR": "ING", "INSPECTEUR": "INSP",
    "INSTITUT": "INST", "INTERNATIONAL": "INTERN", "INTERNATIONALE": "INTERN", "LABORATOIRE": "LABO",
    "LIEUTENANT": "LT", "LIEUTENANT DE VAISSEAU": "LTDV", "MADAME": "MME", "MADEMOISELLE": "MLLE", "MAGASIN": "MAG",
    "MAISON": "MAIS", "MAITRE": "ME", "MARECHAL": "MAL", "MARITIME": "MAR", "MEDECIN": "MED", "MEDICAL": "MED",
    "MESDAMES": "MMES", "MESDEMOISELLES": "MLLES", "MESSIEURS": "MM", "MILITAIRE": "MIL", "MINISTERE": "MIN",
    "MONSEIGNEUR": "MGR", "MONSIEUR": "M", "MUNICIPAL": "MUN", "MUTUEL": "MUT", "NATIONAL": "NAL", "NOTRE DAME": "ND",
    "NOUVEAU": "NOUV", "NOUVELLE": "NOUV", "OBSERVATOIRE": "OBS", "PASTEUR": "PAST", "PETIT": "PT", "PETITE": "PTE",
    "PETITES": "PTES", "PETITS": "PTS", "POLICE": "POL", "PREFECTURE": "PREF", "PREFET": "PREF", "PRESIDENT": "PDT",
    "PROFESSEUR": "PR", "PROFESSIONNEL": "PROF", "PROFESSIONNELLE": "PROF", "PROLONGE": "PROL", "PROLONGEE": "PROL",
    "PROPRIETE": "PROP", "QUATER": "Q", "QUINQIES": "C", "RECTEUR": "RECT", "REGIMENT": "RGT", "REGION": "REG",
    "REGIONAL": "REG", "REPUBLIQUE": "REP", "RESTAURANT": "REST", "SAINT": "ST", "SAINTE": "STE", "SAINTES": "STES",
    "SAINTS": "STS", "SANATORIUM": "SANA", "SERGENT": "SGT", "SERVICE": "SCE", "SOCIETE": "SOC", "SOUS COUVERT": "SC",
    "SOUS PREFECTURE": "SPREF", "SOUS PREFET": "SPREF", "SUPERIEUR": "SUP", "SUPERIEURE": "SUP", "SYNDICAT": "SYND",
    "TECHNICIEN": "TECH", "TECHNIQUE": "TECH", "TER": "T", "TRI SERVICE ARRIVEE": "TSA", "TUNNEL": "TUN",
    "UNIVERSITAIRE": "UNVT", "UNIVERSITE": "UNIV", "VELODROME": "VELOD", "VEUVE": "VVE", "VIEILLE": "VIEL",
    "VIEILLES": "VIEL", "VIEUX": "VX",
}


# Replacement rules in the order they apply: longest entry first (so GRANDE RUE wins over RUE).
def _rules(table: dict[str, str], *, plural: bool) -> tuple[tuple[re.Pattern[str], str], ...]:
    suffix = "S?" if plural else ""  # road types also match their plural: ALLEES -> ALL
    return tuple((re.compile(rf"(?<![A-Z0-9]){re.escape(full)}{suffix}(?![A-Z0-9])"), short)
                 for full, short in sorted(table.items(), key=lambda item: -len(item[0])))


_ROAD_RULES = _rules(ROAD_TYPES, plural=True)
_COMMON_RULES = _rules(COMMON_WORDS, plural=False)
_NOT_KEPT = re.compile(r"[^A-Z0-9\s]")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKD, combining marks and non-ASCII dropped, upper case, punctuation as spaces, squeezed."""
    ascii_text = "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii()).upper()
    return _SPACES.sub(" ", _NOT_KEPT.sub(" ", ascii_text)).strip()


def _replace(text: str, rules: tuple[tuple[re.Pattern[str], str], ...]) -> str:
    for pattern, short in rules:
        text = pattern.sub(short, text)
    return text


def abbreviate(text: str | None, limit: int, *, road_types: bool = False) -> str | None:
    """None for a blank line; the line unchanged if it fits; else its abbreviated form (possibly still too
    long). Street lines use the common words, then, if still too long, the road types as well."""
    if text is None or not text.strip():
        return None
    if len(text) <= limit:
        return text
    words = normalise(text)
    if road_types:
        return _replace(words, _ROAD_RULES)
    common = _replace(words, _COMMON_RULES)
    if len(common) <= limit:
        return common
    by_road = _replace(words, _ROAD_RULES)  # the §7.5 example: IMPASSE ... GRANDE RUE -> IMP ... GR
    return by_road if len(by_road) <= limit else _replace(common, _ROAD_RULES)
