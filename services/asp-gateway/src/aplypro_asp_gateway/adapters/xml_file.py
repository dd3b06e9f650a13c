"""The outbound payment file, built with lxml (asp-exchange.md §4.1, §4.2, §4.4, §4.7).

One builder function per block, in the order §4.2 shows. A record with ASP ids is a modification: the ids
and the `modification` attributes O/N/O (§4.2 rules). Each §4.4 address variant writes its own fields in
its own order. CPU work: callers build files off the event loop.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import Any

from lxml import etree

from aplypro_asp_gateway.domain.errors import RecordBuildError
from aplypro_asp_gateway.domain.model import (
    Address,
    BankAccount,
    EtrangerAddress,
    FranceAddress,
    InduEtrangerAddress,
    InduFranceAddress,
    Parametrage,
    PaymentRecord,
    Person,
)

NAMESPACE = "http://www.cnasea.fr/fichier"
# lxml writes the declaration with single quotes; the ASP's samples use double quotes, so we write it.
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

Element = Any  # lxml ships no type stubs here
_SubElement = etree.SubElement  # 400 000 calls for a 7 000-record file: one lookup


@functools.cache
def _tag(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _add(parent: Element, name: str, value: str | int | None = None) -> Element:
    element = _SubElement(parent, _tag(name))
    if value is not None:
        element.text = str(value)  # lxml refuses here any text XML cannot hold (controls, U+FFFF, surrogates)
    return element


def _fields(parent: Element, *pairs: tuple[str, str | int | None]) -> None:
    """Leaf elements in order; optional ones are omitted when empty, never written empty (§4.1)."""
    for name, value in pairs:
        if value is not None and value != "":
            _add(parent, name, value)


def _date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


class PaymentFile:
    """A payment file built record by record: each record is checked as it is added (§4.8, each record
    alone first), so a record lxml refuses is left out instead of sinking the file, and nothing is
    built twice."""

    def __init__(self, params: Parametrage, built_on: date) -> None:
        self.params, self.built_on = params, built_on
        self.root = etree.Element(_tag("FICHIER"), nsmap={None: NAMESPACE})
        _fields(_add(self.root, "PARAMETRAGE"), ("CODESITEOPE", params.site_operator),
                ("CODEUTILISATEUR", params.user_code), ("CODEDISPO", params.dispo),
                ("CODEPRESTADISPO", params.presta_dispo))
        self._records = _add(self.root, "ENREGISTREMENTS")
        self._count = 0

    def add(self, record: PaymentRecord) -> Element:
        """Add one record and return its element, or raise RecordBuildError and leave the file as it was.

        lxml refuses text that XML cannot hold (control characters, U+FFFF, lone surrogates…) when it is set,
        so the whole file always serialises. The error text is not kept: it may quote personal data.
        """
        # Positions are never used: lxml walks the children to index or count them (quadratic on 7 000).
        element = etree.SubElement(self._records, _tag("ENREGISTREMENT"))
        try:
            _enregistrement(element, self.params, record, self.built_on)
        except (ValueError, TypeError, etree.LxmlError):
            self._records.remove(element)
            raise RecordBuildError("the record cannot be built as XML") from None
        self._count += 1
        return element

    def remove(self, element: Element) -> None:
        """Take a record back out (the schema refused it)."""
        self._records.remove(element)
        self._count -= 1

    def __len__(self) -> int:
        return self._count

    def to_bytes(self) -> bytes:
        """The whole file (pure ASCII: every text value is transliterated upstream)."""
        body: bytes = etree.tostring(self.root, encoding="US-ASCII", xml_declaration=False, pretty_print=True)
        return DECLARATION + body


def payment_file(params: Parametrage, records: Sequence[PaymentRecord], built_on: date) -> bytes:
    """The whole file of these records; RecordBuildError if one cannot be built."""
    file = PaymentFile(params, built_on)
    for record in records:
        file.add(record)
    return file.to_bytes()


def _enregistrement(element: Element, params: Parametrage, record: PaymentRecord, built_on: date) -> None:
    element.set("idEnregistrement", str(record.record_id))
    ids = record.asp_ids
    individu = _add(element, "INDIVIDU")
    _ids(individu, "idIndividu", ids.individu if ids else None, "O")  # sent in full: the ASP updates, never duplicates
    _add(individu, "NATUREINDIVIDU", "P")
    _persphysique(individu, record.person)
    _adresse(_add(individu, "ADRESSESINDIVIDU"), record.address)
    dossier = _add(_add(individu, "LISTEDOSSIER"), "DOSSIER")
    _ids(dossier, "idDoss", ids.dossier if ids else None, "N")
    _fields(dossier, ("NUMADM", record.da_number), ("CODEDISPOSITIF", params.dispositif))
    _prestadoss(_add(dossier, "LISTEPRESTADOSS"), params, record, built_on)


def _ids(element: Element, attribute: str, asp_id: str | None, modification: str) -> None:
    """A first payment carries no id (the ASP creates the object); a modification carries the ASP's id."""
    if asp_id:
        element.set(attribute, asp_id)
        element.set("modification", modification)


def _persphysique(parent: Element, person: Person) -> None:
    _fields(_add(parent, "PERSPHYSIQUE"), ("TITRE", person.title), ("PRENOM", person.first_names),
            ("NOMUSAGE", person.last_name), ("NOMNAISSANCE", person.last_name),
            ("DATENAISSANCE", _date(person.birth_date)), ("CODEINSEEPAYSNAI", person.birth_country),
            ("CODEINSEECOMMUNE", person.birth_commune))


def _adresse(parent: Element, address: Address) -> None:
    """One §4.4 variant, its fields in the order §4.4 gives (ADRESSE is an `all`: order is ours)."""
    element = _add(parent, "ADRESSE")
    if isinstance(address, FranceAddress):
        _fields(element, ("CODETYPEADR", "PRINCIPALE"), ("CODEINSEEPAYS", address.country),
                ("CODEPOSTALCEDEX", address.postal_code), ("CODECOMINSEE", address.commune))
    elif isinstance(address, EtrangerAddress):
        _fields(element, ("CODETYPEADR", "PRINCIPALE"), ("CODECOMINSEE", address.commune),
                ("CODEPOSTALCEDEX", address.postal_code), ("CODEINSEEPAYS", address.country))
    elif isinstance(address, InduFranceAddress):
        _fields(element, ("LIBELLEVOIE", address.street), ("CPLTDISTRIBUTION", address.complement),
                ("CODETYPEADR", "PRINCIPALE"), ("CODEINSEEPAYS", address.country),
                ("CODEPOSTALCEDEX", address.postal_code), ("CODECOMINSEE", address.commune))
    elif isinstance(address, InduEtrangerAddress):
        _fields(element, ("CODETYPEADR", "PRINCIPALE"), ("CODEINSEEPAYS", address.country),
                ("LOCALITEETRANGER", address.city), ("BUREAUDISTRIBETRANGER", address.postal_code),
                ("VOIEPOINTGEOETRANGER", address.street), ("DISTRICTETRANGER", address.district),
                ("REGIONETRANGER", address.district))  # line 2 twice, as the ASP asks (§4.4)
    else:  # pragma: no cover - the union is closed
        raise TypeError(type(address).__name__)


def _prestadoss(parent: Element, params: Parametrage, record: PaymentRecord, built_on: date) -> None:
    element = _add(parent, "PRESTADOSS")
    _ids(element, "idPrestaDoss", record.asp_ids.prestation if record.asp_ids else None, "O")
    _fields(element, ("NUMADM", record.pfmp_number), ("CODEPRESTADISPO", params.presta_dispo),
            ("DATECOMPLETUDE", _date(built_on)), ("DATERECEPTIONPRESTADOSS", _date(built_on)),
            ("MONTANTTOTALENGAGE", record.engaged_euros), ("CODE", "D"), ("VALEUR", record.department),
            ("INDICRATTACHUSPRESTADISPO", "O"))
    _adresse(_add(element, "ADRESSESPRESTADOSS"), record.address)  # same address as the individual's
    _coordpaie(_add(element, "COORDPAIESPRESTADOSS"), record.bank)
    _element_paiement(_add(element, "LISTEELEMENTPAIEMENT"), record)


def _coordpaie(parent: Element, account: BankAccount) -> None:
    element = _add(parent, "COORDPAIE")
    _fields(element, ("CODETYPECOORDPAIE", "PRINCIPALE"), ("CODEMODEREGLEMENT", "135"),
            ("INTITDEST", account.holder))
    _fields(_add(element, "IBAN"), ("BIC", account.bic), ("CLECONTROL", account.check_digits),
            ("ZONEBBAN", account.bban), ("CODEISOPAYS", account.country))


def _element_paiement(parent: Element, record: PaymentRecord) -> None:
    element = _add(parent, "ELEMENTPAIEMENT")
    _add(element, "CODEOBJET", "VERSE001")
    versement = _add(_add(element, "LISTEVERSEMENT"), "VERSEMENT")
    _add(versement, "CODETYPEVERSEMENT", "PAIEMENT")
    financement = _add(_add(versement, "LISTEFINANCEMENT"), "FINANCEMENT")
    _fields(financement, ("MTTOTALFINANCEMENT", record.amount_euros), ("USPRINC", record.unite_suivi))
