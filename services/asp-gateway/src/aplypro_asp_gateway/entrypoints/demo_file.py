"""`demo-file`: one payment file of N generated, fictitious requests through the real checks, builder and XSD.

No database, no broker: the requests are made up (seeded, so a run is reproducible) and go through
`readiness.prepare` / `build_modification` and `build.assemble`, the path of every real file. The mix covers
every variant: French and foreign addresses (Etranger, InduFrance, InduEtranger), long accented names, first
payments, rectifications up and down (a recovery), full cancellations. The bench reuses `demo_requests`.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.domain import codes
from aplypro_asp_gateway.domain.errors import PaymentFileInvalid
from aplypro_asp_gateway.domain.model import (
    AspIds,
    Blocked,
    Parametrage,
    PaymentRecord,
    PendingRequest,
    Rib,
    Schooling,
    Student,
)
from aplypro_asp_gateway.domain.modification import build_modification
from aplypro_asp_gateway.domain.readiness import prepare
from aplypro_asp_gateway.service_layer.build import Composition, assemble

BUILT_ON = date(2026, 5, 20)
# Fictitious settings (asp-exchange.md §4.7); downward rectifications on, so the recovery variants show.
PARAMS = Parametrage(
    site_operator="SITEOPE", user_code="USERCODE", dispo="APLYPRO", presta_dispo="APLYPRO", dispositif="APLYPRO",
    unites_suivi={"menj_public": "USMENJPUB", "menj_private": "USMENJPRIV", "masa": "USMASA", "mer": "USMER"},
    negative_rectification_blocked=False,
)
LAST_NAMES = ("Dupré", "Benali", "Lecœur", "N'Diaye", "Le Hénaff", "Müller", "Ñúñez García", "Østergård",
              "de La Rochefoucauld-Montmorency-Laval de Saint-Exupéry-Bérard", "Nguyễn", "Kowalczyk-Łęcka")
FIRST_NAMES = ("Léa", "Karim", "Marie-Éléonore", "Jean-Baptiste", "Maëlys", "Zoé", "Noël", "Inès", "Thaïs",
               "Ibrahima", "Bérénice-Anaïs", "Chloé")
# (postal code, commune INSEE, street lines) in France; (country, city, postal code, lines) abroad.
FRANCE = (("34000", "34172", ("12, boulevard de la République", "Appartement 12, Résidence les Pins, Bâtiment A")),
          ("13001", "13201", ("Impasse du Moulin de la Grande Rue",)),
          ("35000", "35238", ("3 rue de Nantes",)), ("97400", "97411", ("Lieu-dit de la Place de l'Église",)),
          ("20000", "2A004", ("Boîte postale du parc Victor Hugo", "Bâtiment C")))
ABROAD = (("99140", "Genève", "1205", ("Rue de Carouge 24", "Appartement 3")),
          ("109", "Berlin", "10115", ("Invalidenstraße 117",)), ("99131", "Bruxelles", "1000", ("Rue de la Loi 16",)),
          ("99134", "Barcelona", "08001", ("Carrer de la Riera Baixa 5", "Escalera B, piso 3")))
# (UAI, commune INSEE, postal code, ministry, contract type)
SCHOOLS = (("0341234X", "34172", "34000", "MENJ", "99"), ("0131234A", "13201", "13001", "MENJ", "30"),
           ("0351234B", "35238", "35000", "MASA", "99"), ("9741234C", "97411", "97400", "MER", "99"),
           ("6201234D", "2A004", "20000", "MENJ", "99"))
FRENCH_BANKS = (("30006", "AGRIFRPPXXX"), ("30004", "BNPAFRPPMAR"), ("30003", "SOGEFRPP"), ("20041", "PSSTFRPP"),
                ("10278", "CMCIFR2A"))
FOREIGN_ACCOUNTS = (("DE89370400440532013000", "COBADEFF"), ("BE68539007547034", "GEBABEBB"),
                    ("CH9300762011623852957", "UBSWCHZH80A"), ("ES9121000418450200051332", "CAIXESBB"))


@dataclass(frozen=True)
class DemoRequest:
    """A generated request and, for a modification, what the ASP returned and paid (else None)."""

    request: PendingRequest
    asp_ids: AspIds | None
    paid_cents: int


def french_iban(rng: random.Random) -> tuple[str, str]:
    """A French IBAN of a real bank code with a valid RIB key and mod-97 checksum, and its bank's BIC."""
    bank, bic = rng.choice(FRENCH_BANKS)
    branch, account = f"{rng.randrange(100000):05d}", f"{rng.randrange(10**11):011d}"
    key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
    bban = f"{bank}{branch}{account}{key:02d}"
    check = 98 - int(bban + "152700") % 97  # "FR00" as digits: F=15, R=27
    return f"FR{check:02d}{bban}", bic


def _student(rng: random.Random, abroad: bool) -> Student:
    firsts = tuple(rng.sample(FIRST_NAMES, rng.randint(1, 3)))
    born_abroad = rng.random() < 0.15
    if abroad:
        country, city, postal, lines = rng.choice(ABROAD)
        place: tuple[str | None, str | None, str | None] = (postal, None, country)
    else:
        postal, commune, lines = rng.choice(FRANCE)
        city, place = None, (postal, commune, "99100")
    return Student(last_name=rng.choice(LAST_NAMES), first_names=firsts,
                   birth_date=date(2006, 1, 1) + timedelta(days=rng.randrange(4 * 365)),
                   sex=rng.choice(("female", "male")), birth_city_insee=None if born_abroad else "35238",
                   birth_country_insee="99350" if born_abroad else "99100", postal_code=place[0],
                   city_insee=place[1], country_insee=place[2], address_lines=lines, city_name=city)


def demo_da_number(schooling_id: uuid.UUID, ministry: str, contract: str) -> str:
    """A fictitious DA number shaped as the documents service's (documents.md §4): prefix, a 10-character
    administrative number (from the schooling id, so it is stable), start year, version 1."""
    prefix = codes.da_prefix(codes.budget_programme(ministry, contract))
    return f"{prefix}{schooling_id.hex[:10].upper()}20251"


def demo_requests(count: int, seed: int = 0) -> list[DemoRequest]:
    """`count` fictitious requests: about 1 in 6 lives abroad, 1 in 5 is a modification of each kind."""
    rng = random.Random(seed)  # noqa: S311 - fictitious data, reproducible by seed, nothing secret
    made: list[DemoRequest] = []
    for n in range(count):
        variant = ("first_payment", "first_payment", "rectification_up", "rectification_down",
                   "cancellation")[n % 5] if count > 4 else ("first_payment", "rectification_up",
                                                             "rectification_down", "cancellation")[n % 4]
        uai, commune, postal, ministry, contract = rng.choice(SCHOOLS)
        rate, days = rng.choice((10, 15, 20)), rng.randint(5, 40)
        cap = rate * 40 * 100
        student = _student(rng, abroad=n % 6 == 1)
        iban, bic = french_iban(rng) if rng.random() < 0.9 else rng.choice(FOREIGN_ACCOUNTS)
        holder = f"{rng.choice(('', 'Mme ', 'M. '))}{student.first_names[0]} {student.last_name}"
        paid = rate * days * 100
        amount = {"first_payment": paid, "rectification_up": paid + rate * 100 * rng.randint(1, 5),
                  "rectification_down": paid - rate * 100 * rng.randint(1, days - 1), "cancellation": 0}[variant]
        payment_request_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        pfmp_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        schooling_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        request = PendingRequest(
            payment_request_id=payment_request_id, record_id=n + 1, pfmp_id=pfmp_id, schooling_id=schooling_id,
            da_number=demo_da_number(schooling_id, ministry, contract),
            student_id=uuid.UUID(int=rng.getrandbits(128), version=4), amount_cents=amount, pfmp_rank=rng.randint(1, 3),
            student=student, schooling=Schooling(uai=uai, contract_type_code=contract, mef_ministry=ministry,
                                                 school_year=2025, status="student", yearly_cap_cents=cap,
                                                 establishment_city_insee=commune, establishment_postal_code=postal),
            rib=Rib(rib_id=uuid.UUID(int=rng.getrandbits(128), version=4), owner_type="personal",
                    holder_name=holder, iban=iban, bic=bic),
            rectification=variant != "first_payment", pfmp_start_date=date(2026, 1, 5),
        )
        ids = None if variant == "first_payment" else AspIds(*(str(rng.randrange(10**6, 10**7)) for _ in range(3)))
        made.append(DemoRequest(request, ids, paid))
    return made


def prepared(demo: DemoRequest) -> PaymentRecord | Blocked:
    if demo.asp_ids is None:
        return prepare(demo.request, PARAMS)
    return build_modification(demo.request, PARAMS, demo.asp_ids, paid_cents=demo.paid_cents)


def run(count: int, out: Path, seed: int = 0) -> tuple[bool, dict[str, object]]:
    """Build and validate the file; (valid, one-line summary). Invalid: nothing is written."""
    demos = demo_requests(count, seed)
    started = time.perf_counter()
    outcomes = [prepared(d) for d in demos]
    records = [o for o in outcomes if isinstance(o, PaymentRecord)]
    try:
        composition = assemble(records, set(), PARAMS, BUILT_ON)
    except PaymentFileInvalid:
        composition = Composition([], [], None)  # the settings break the schema: no file at all
    seconds = time.perf_counter() - started
    content = composition.content or b""
    blocked = [o for o in outcomes if isinstance(o, Blocked)] + composition.blocked
    # Every generated request must make it: a blocked one means a variant the checks or the XSD refuse.
    valid = bool(content) and not blocked and xsd.is_valid(content)
    if valid:
        out.write_bytes(content)
    summary: dict[str, object] = {
        "file": str(out) if valid else None, "valid": valid, "records": len(composition.records),
        "variants": dict(Counter(r.variant for r in composition.records)),
        "addresses": dict(Counter(type(r.address).__name__.removesuffix("Address") for r in composition.records)),
        "blocked": dict(Counter(reason for b in blocked for reason in b.reasons)),
        "bytes": len(content), "seconds": round(seconds, 3),
    }
    return valid, summary
