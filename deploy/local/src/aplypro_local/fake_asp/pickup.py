"""The fake ASP's desk: takes one uploaded payment file, checks it, allocates ids, decides each record's fate.

No I/O here (the server reads and writes the folders): `take(name, content, now)` returns the answer, or
None when the file is refused whole (duplicate name or content, invalid, over the record cap); every
breach of the rules of asp-exchange.md §3.4 and §9 is kept in `violations` for the tests to assert on.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from aplypro_local.fake_asp.behaviour import Behaviour
from aplypro_local.fake_asp.returns import Integrated, Rejected

UPLOAD_NAME = re.compile(r"^nps_ficimport_(correction_adresse_)?idp_.+\.xml$")
CORRECTION_NAME = re.compile(r"^nps_ficimport_correction_adresse_idp_.+\.xml$")
SEPA = frozenset("AD AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL PT "
                 "RO SE SI SK SM VA".split())


@dataclass(frozen=True)
class Violation:
    code: str
    file_name: str
    detail: str = ""


@dataclass(frozen=True)
class Record:
    record_id: int
    individual: str  # @idIndividu, or the natural key (NOMNAISSANCE, PRENOM, DATENAISSANCE)
    individual_known: bool
    dossier: str  # @idDoss or DOSSIER/NUMADM
    dossier_known: bool
    dossier_number: str
    prestation: str  # @idPrestaDoss or PRESTADOSS/NUMADM
    prestation_known: bool
    iban: str
    amount_euros: int | None

    @property
    def modification(self) -> bool:
        """The record names a prestation the ASP holds (§8.1): a new total for it, not a creation."""
        return self.prestation_known


@dataclass(frozen=True)
class Answer:
    integrated: list[Integrated]
    rejected: list[Rejected]


def _text(element: etree._Element, path: str) -> str:
    found = element.xpath(f"string({path})")
    return str(found).strip()


def _local(*names: str) -> str:
    return "/".join(f"*[local-name()='{n}']" for n in names)


def parse_records(content: bytes) -> list[Record]:
    root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    records = []
    for e in root.xpath(f"//{_local('ENREGISTREMENT')}"):
        individu = e.xpath(_local("INDIVIDU"))[0]
        dossier = individu.xpath(_local("LISTEDOSSIER", "DOSSIER"))[0]
        presta = dossier.xpath(_local("LISTEPRESTADOSS", "PRESTADOSS"))[0]
        person = "|".join(_text(individu, _local("PERSPHYSIQUE", n)) for n in ("NOMNAISSANCE", "PRENOM", "DATENAISSANCE"))
        iban = "".join(_text(presta, f".//{_local(n)}") for n in ("CODEISOPAYS", "CLECONTROL", "ZONEBBAN"))
        amount = _text(presta, f".//{_local('MTTOTALFINANCEMENT')}")
        records.append(Record(
            record_id=int(e.get("idEnregistrement")),
            individual=individu.get("idIndividu") or person, individual_known=individu.get("idIndividu") is not None,
            dossier=dossier.get("idDoss") or _text(dossier, _local("NUMADM")),
            dossier_known=dossier.get("idDoss") is not None, dossier_number=_text(dossier, _local("NUMADM")),
            prestation=presta.get("idPrestaDoss") or _text(presta, _local("NUMADM")),
            prestation_known=presta.get("idPrestaDoss") is not None, iban=iban,
            amount_euros=int(float(amount)) if amount else None))
    return records


def iban_checks(iban: str) -> bool:
    if len(iban) < 5:
        return False
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


class AspDesk:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.rng = random.Random(behaviour.seed)  # noqa: S311 reproducible test answers, not secrets
        # ASP ids: 7 digits, one counter per kind; the same key always gets the same id.
        self._next = {"ind": itertools.count(1234001), "doss": itertools.count(7654001),
                      "presta": itertools.count(9876001), "numpresta": itertools.count(51001)}
        self.ids: dict[tuple[str, str], str] = {}
        self._issued: dict[str, set[str]] = {"ind": set(), "doss": set(), "presta": set()}  # ids values, by kind
        self.names: Counter[str] = Counter()
        self.hashes: dict[str, str] = {}
        self.records_seen: Counter[int] = Counter()
        self.files_by_day: Counter[date] = Counter()
        self.records_by_week: Counter[tuple[int, int]] = Counter()
        self.violations: list[Violation] = []
        self.integrated: dict[int, Integrated] = {}
        # What the ASP holds as paid per prestation id, in euros: the total of its last payment or recovery.
        self.paid_total: dict[str, int] = {}
        self.corrections: dict[int, Integrated] = {}  # address-correction records answered (§4.9), no payment
        self._correction_draws = random.Random(behaviour.seed + 2)  # noqa: S311 reproducible mismatches

    def _note(self, code: str, name: str, detail: str = "") -> None:
        """A breach of the rules (§3.4, §9), kept for the tests to assert on."""
        self.violations.append(Violation(code, name, detail))

    def take(self, name: str, content: bytes, now: datetime) -> Answer | None:
        self.names[name] += 1
        sha = hashlib.sha256(content).hexdigest()
        if self.names[name] > 1:
            self._note("duplicate_name", name)
            return None
        if sha in self.hashes:
            self._note("duplicate_content", name, self.hashes[sha])
            return None
        self.hashes[sha] = name
        if errors := self.behaviour.validate(content):
            self._note("invalid_file", name, "; ".join(errors))
            return self._reject_all(content, self.behaviour.invalid_file_reason)
        records = parse_records(content)
        if len(records) > self.behaviour.max_records_per_file:
            self._note("too_many_records", name, str(len(records)))
            return None
        self._count(name, len(records), now)
        if CORRECTION_NAME.match(name):
            return self._answer_corrections(name, records)
        return self._answer(name, records)

    def _reject_all(self, content: bytes, reason: str | None) -> Answer | None:
        """No answer to an invalid file, or (`invalid_file_reason`) each record it names rejected with the reason."""
        if reason is None:
            return None
        try:
            records = parse_records(content)
        except (etree.XMLSyntaxError, IndexError, TypeError, ValueError):
            return None  # not even its records can be read: nothing to answer
        for record in records:
            self.records_seen[record.record_id] += 1
        return Answer([], [Rejected(r.record_id, reason) for r in records])

    def _count(self, name: str, records: int, now: datetime) -> None:
        day = now.date()
        week = tuple(day.isocalendar())[:2]
        self.files_by_day[day] += 1
        self.records_by_week[(week[0], week[1])] += records
        if day.weekday() >= 5:
            self._note("weekend_upload", name)
        if self.files_by_day[day] > self.behaviour.max_files_per_day:
            self._note("too_many_files_today", name, str(self.files_by_day[day]))
        if self.records_by_week[(week[0], week[1])] > self.behaviour.max_records_per_week:
            self._note("too_many_records_this_week", name, str(self.records_by_week[(week[0], week[1])]))

    def _answer(self, name: str, records: list[Record]) -> Answer:
        answer = Answer([], [])
        numbers_in_file: set[str] = set()
        for record in records:
            # Drawn for every record, whatever its fate: the same seed gives the same answers.
            roll, drawn = self.rng.random(), self.rng.choice(self.behaviour.reasons)
            self.records_seen[record.record_id] += 1
            reason = self._reason(name, record, numbers_in_file)
            if reason is None and roll < self.behaviour.reject_rate:
                reason = drawn
            numbers_in_file.add(record.dossier_number)
            if reason is not None:
                answer.rejected.append(Rejected(record.record_id, reason))
            else:
                answer.integrated.append(self._integrate(record))
        return answer

    def _reason(self, name: str, record: Record, numbers_in_file: set[str]) -> str | None:
        if self.records_seen[record.record_id] > 1:
            self._note("duplicate_record", name, str(record.record_id))
            if self.behaviour.duplicate_record == "reject":
                return f"L'enregistrement {record.record_id} a déjà été reçu"
        if record.record_id in self.behaviour.reject_records:
            return self.behaviour.reject_records[record.record_id]
        refused = {"".join(iban.split()).upper(): why for iban, why in self.behaviour.reject_ibans.items()}
        if record.iban in refused:
            return refused[record.iban]
        if self.behaviour.reject_if is not None and (why := self.behaviour.reject_if(record)) is not None:
            return why
        for kind, key, known in (("ind", record.individual, record.individual_known),
                                 ("doss", record.dossier, record.dossier_known),
                                 ("presta", record.prestation, record.prestation_known)):
            if known and key not in self._known(kind):
                return f"L'identifiant {key} est inconnu"
        if not record.dossier_known and (record.dossier_number in numbers_in_file
                                         or ("doss", record.dossier_number) in self.ids):
            return f"Le numéro administratif {record.dossier_number} n'est pas unique"
        if record.iban[:2] not in SEPA:
            return "L'IBAN ne fait pas partie de la zone SEPA."
        if not iban_checks(record.iban):
            return f"Le RIB {record.iban} est Invalide"
        return None

    def _known(self, kind: str) -> set[str]:
        # Kept as ids are issued: rebuilt from `ids` for each record, it froze the 20,000-student drill.
        return self._issued[kind]

    def _id(self, kind: str, key: str, known: bool) -> str:
        if known:
            return key
        if (kind, key) not in self.ids:
            self.ids[(kind, key)] = str(next(self._next[kind]))
            self._issued[kind].add(self.ids[(kind, key)])
        return self.ids[(kind, key)]

    def _integrate(self, record: Record) -> Integrated:
        line = Integrated(
            record_id=record.record_id, individual_id=self._id("ind", record.individual, record.individual_known),
            dossier_id=self._id("doss", record.dossier, record.dossier_known), dossier_number=record.dossier_number,
            prestation_id=self._id("presta", record.prestation, record.prestation_known),
            prestation_number=str(next(self._next["numpresta"])), amount_euros=record.amount_euros, iban=record.iban,
            modification=record.modification)
        self.integrated[record.record_id] = line
        return line

    def _answer_corrections(self, name: str, records: list[Record]) -> Answer:
        """An address-correction file (§4.9, §5.5): each record names what the ASP holds (three ids, the id of the
        PFMP's latest request, which came before on purpose); answered with the ids it holds, or (seeded
        `correction_mismatch_rate`, or `correction_mismatch_records`) another dossier id, or rejected
        (`reject_records`, `reject_rate`, an unknown id). No payment."""
        answer = Answer([], [])
        for record in records:
            roll, drawn = self._correction_draws.random(), self._correction_draws.choice(self.behaviour.reasons)
            mismatch = (self._correction_draws.random() < self.behaviour.correction_mismatch_rate
                        or record.record_id in self.behaviour.correction_mismatch_records)
            unknown = next((key for kind, key, known in (("ind", record.individual, record.individual_known),
                                                          ("doss", record.dossier, record.dossier_known),
                                                          ("presta", record.prestation, record.prestation_known))
                            if not known or key not in self._known(kind)), None)
            if unknown is not None:
                answer.rejected.append(Rejected(record.record_id, f"L'identifiant {unknown} est inconnu"))
            elif record.record_id in self.behaviour.reject_records:
                answer.rejected.append(Rejected(record.record_id, self.behaviour.reject_records[record.record_id]))
            elif roll < self.behaviour.reject_rate:
                answer.rejected.append(Rejected(record.record_id, drawn))
            else:
                dossier = str(int(record.dossier) + 1) if mismatch else record.dossier
                line = Integrated(record.record_id, record.individual, dossier, record.dossier_number,
                                  record.prestation, "", None, modification=True)
                self.corrections[record.record_id] = line
                answer.integrated.append(line)
        return answer
