"""The outbound payment file (asp-exchange.md §4.1, §4.2, §4.4, §4.7), written as text record by record.

One writer function per block, in the order §4.2 shows. A record with ASP ids is a modification: the ids and
the `modification` attributes O/N/O (§4.2 rules). Each §4.4 address variant writes its own fields in its own
order. Text, not an lxml tree: creating 400 000 elements one Python call at a time cost ten times lxml's own
serialization of them (bench/asp_file.py); every value is escaped here and the whole file is parsed back
and validated against our XSD before it leaves (service_layer/build.py), so lxml still reads every byte.
CPU work: callers build files off the event loop.

The address-correction file (§4.9) is the same file of `CorrectionRecord`s: the bank block also under
`COORDPAIESINDIVIDU`, `modification="O"` on all three levels, no `LISTEELEMENTPAIEMENT`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from aplypro_asp_gateway.domain.errors import RecordBuildError
from aplypro_asp_gateway.domain.model import (
    Address,
    AspIds,
    BankAccount,
    CorrectionFranceAddress,
    CorrectionRecord,
    EtrangerAddress,
    FranceAddress,
    InduEtrangerAddress,
    InduFranceAddress,
    Parametrage,
    PaymentRecord,
    Person,
)

NAMESPACE = "http://www.cnasea.fr/fichier"
# The ASP's samples use double quotes in the declaration (lxml would write single ones).
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# What XML 1.0 cannot hold (lxml refused the same when a value was set): C0 controls but tab, LF and CR,
# surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"})
_SPECIAL = re.compile("[&<>\"\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # either of the above
_INDENT = ["  " * depth for depth in range(16)]

Field = tuple[str, str | int | None]


def _text(value: str | int) -> str:
    text = str(value)
    if _SPECIAL.search(text) is None:  # nearly always: one scan, no copy
        return text
    if _NOT_XML.search(text):
        raise RecordBuildError("the record cannot be built as XML")  # no value in the text: personal data
    return text.translate(_ESCAPES)


def _fields(out: list[str], depth: int, *pairs: Field) -> None:
    """Leaf elements in order; optional ones are omitted when empty, never written empty (§4.1)."""
    indent = _INDENT[depth]
    for name, value in pairs:
        if value is not None and value != "":
            out.append(f"{indent}<{name}>{_text(value)}</{name}>\n")


def _open(out: list[str], depth: int, name: str, attributes: str = "") -> None:
    out.append(f"{_INDENT[depth]}<{name}{attributes}>\n")


def _close(out: list[str], depth: int, name: str) -> None:
    out.append(f"{_INDENT[depth]}</{name}>\n")


def _date(value: date) -> str:
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


class PaymentFile:
    """A payment file built record by record: a record that cannot be written is left out with
    RecordBuildError instead of sinking the file; one the XSD refuses is taken back out (`remove`)."""

    def __init__(self, params: Parametrage, built_on: date, *, correction: bool = False) -> None:
        # An address-correction file (§4.9) is the same file with CorrectionRecords only: same header, no payment.
        self.params, self.built_on, self.correction = params, built_on, correction
        head = [f'<FICHIER xmlns="{NAMESPACE}">\n']
        _open(head, 1, "PARAMETRAGE")
        _fields(head, 2, ("CODESITEOPE", params.site_operator), ("CODEUTILISATEUR", params.user_code),
                ("CODEDISPO", params.dispo), ("CODEPRESTADISPO", params.presta_dispo))
        _close(head, 1, "PARAMETRAGE")
        self._head = "".join(head)
        self._dates = _date(built_on)
        self._records: dict[int, str] = {}  # by idEnregistrement, in file order

    def add(self, record: PaymentRecord | CorrectionRecord) -> int:
        """Add one record and return its handle (its `idEnregistrement`), or raise RecordBuildError and leave
        the file as it was. The error text is not kept: it may quote personal data."""
        if record.record_id in self._records:
            raise RecordBuildError("a record id is written once per file")
        if isinstance(record, CorrectionRecord) != self.correction:
            raise RecordBuildError("payment and address-correction records never share a file")
        out: list[str] = []
        _enregistrement(out, self.params, record, self._dates)
        self._records[record.record_id] = "".join(out)
        return record.record_id

    def remove(self, handle: int) -> None:
        """Take a record back out (the schema refused it)."""
        del self._records[handle]

    def __len__(self) -> int:
        return len(self._records)

    def to_bytes(self) -> bytes:
        """The whole file, pure ASCII (text is transliterated upstream; anything else as character references)."""
        records = "".join(self._records.values())
        body = f"{self._head}  <ENREGISTREMENTS>\n{records}  </ENREGISTREMENTS>\n</FICHIER>\n"
        return DECLARATION + body.encode("ascii", "xmlcharrefreplace")


def payment_file(params: Parametrage, records: Sequence[PaymentRecord] | Sequence[CorrectionRecord],
                 built_on: date) -> bytes:
    """The whole file of these records (payment or address-correction ones); RecordBuildError if one cannot be
    built."""
    file = PaymentFile(params, built_on, correction=bool(records) and isinstance(records[0], CorrectionRecord))
    for record in records:
        file.add(record)
    return file.to_bytes()


def _ids(asp_id: str | None, attribute: str, modification: str) -> str:
    """A first payment carries no id (the ASP creates the object); a modification carries the ASP's id."""
    return f' {attribute}="{_text(asp_id)}" modification="{modification}"' if asp_id else ""


def _enregistrement(out: list[str], params: Parametrage, record: PaymentRecord | CorrectionRecord,
                    dates: str) -> None:
    ids: AspIds | None = record.asp_ids
    correction = isinstance(record, CorrectionRecord)
    _open(out, 2, "ENREGISTREMENT", f' idEnregistrement="{int(record.record_id)}"')
    # The individual is sent in full with its id: the ASP updates it, never duplicates it.
    _open(out, 3, "INDIVIDU", _ids(ids.individu if ids else None, "idIndividu", "O"))
    _fields(out, 4, ("NATUREINDIVIDU", "P"))
    _persphysique(out, record.person)
    _open(out, 4, "ADRESSESINDIVIDU")
    _adresse(out, 5, record.address)
    _close(out, 4, "ADRESSESINDIVIDU")
    if correction:  # the correction file also carries the bank block on the individual (§4.9)
        _coordpaie(out, record.bank, 4, "COORDPAIESINDIVIDU")
    _open(out, 4, "LISTEDOSSIER")
    # A payment never modifies the dossier (N); a correction modifies all three levels (O, §4.3).
    _open(out, 5, "DOSSIER", _ids(ids.dossier if ids else None, "idDoss", "O" if correction else "N"))
    _fields(out, 6, ("NUMADM", record.da_number), ("CODEDISPOSITIF", params.dispositif))
    _open(out, 6, "LISTEPRESTADOSS")
    _prestadoss(out, params, record, dates)
    for depth, name in ((6, "LISTEPRESTADOSS"), (5, "DOSSIER"), (4, "LISTEDOSSIER"), (3, "INDIVIDU"),
                        (2, "ENREGISTREMENT")):
        _close(out, depth, name)


def _persphysique(out: list[str], person: Person) -> None:
    _open(out, 4, "PERSPHYSIQUE")
    _fields(out, 5, ("TITRE", person.title), ("PRENOM", person.first_names), ("NOMUSAGE", person.last_name),
            ("NOMNAISSANCE", person.last_name), ("DATENAISSANCE", _date(person.birth_date)),
            ("CODEINSEEPAYSNAI", person.birth_country), ("CODEINSEECOMMUNE", person.birth_commune))
    _close(out, 4, "PERSPHYSIQUE")


def _adresse(out: list[str], depth: int, address: Address) -> None:
    """One §4.4 variant, its fields in the order §4.4 gives (ADRESSE is an `all`: order is ours)."""
    _open(out, depth, "ADRESSE")
    inner = depth + 1
    if isinstance(address, FranceAddress):
        _fields(out, inner, ("CODETYPEADR", "PRINCIPALE"), ("CODEINSEEPAYS", address.country),
                ("CODEPOSTALCEDEX", address.postal_code), ("CODECOMINSEE", address.commune))
    elif isinstance(address, EtrangerAddress):
        _fields(out, inner, ("CODETYPEADR", "PRINCIPALE"), ("CODECOMINSEE", address.commune),
                ("CODEPOSTALCEDEX", address.postal_code), ("CODEINSEEPAYS", address.country))
    elif isinstance(address, InduFranceAddress):
        _fields(out, inner, ("LIBELLEVOIE", address.street), ("CPLTDISTRIBUTION", address.complement),
                ("CODETYPEADR", "PRINCIPALE"), ("CODEINSEEPAYS", address.country),
                ("CODEPOSTALCEDEX", address.postal_code), ("CODECOMINSEE", address.commune))
    elif isinstance(address, InduEtrangerAddress):
        _fields(out, inner, ("CODETYPEADR", "PRINCIPALE"), ("CODEINSEEPAYS", address.country),
                ("LOCALITEETRANGER", address.city), ("BUREAUDISTRIBETRANGER", address.postal_code),
                ("VOIEPOINTGEOETRANGER", address.street), ("DISTRICTETRANGER", address.district),
                ("REGIONETRANGER", address.district))  # line 2 twice, as the ASP asks (§4.4)
    elif isinstance(address, CorrectionFranceAddress):
        _fields(out, inner, ("CODETYPEADR", "PRINCIPALE"), ("NUMEROVOIE", address.number),
                ("LIBELLEVOIE", address.street), ("CODEEXTENSIONVOIE", address.extension),
                ("CODETYPEVOIE", address.road_type), ("CPLTDISTRIBUTION", address.complement),
                ("CODECOMINSEE", address.commune), ("CODEINSEEPAYS", address.country),
                ("CODEPOSTALCEDEX", address.postal_code))
    else:  # pragma: no cover - the union is closed
        raise TypeError(type(address).__name__)
    _close(out, depth, "ADRESSE")


def _prestadoss(out: list[str], params: Parametrage, record: PaymentRecord | CorrectionRecord, dates: str) -> None:
    _open(out, 7, "PRESTADOSS", _ids(record.asp_ids.prestation if record.asp_ids else None, "idPrestaDoss", "O"))
    _fields(out, 8, ("NUMADM", record.pfmp_number), ("CODEPRESTADISPO", params.presta_dispo),
            ("DATECOMPLETUDE", dates), ("DATERECEPTIONPRESTADOSS", dates),
            ("MONTANTTOTALENGAGE", record.engaged_euros), ("CODE", "D"), ("VALEUR", record.department),
            ("INDICRATTACHUSPRESTADISPO", "O"))
    _open(out, 8, "ADRESSESPRESTADOSS")
    _adresse(out, 9, record.address)  # same address as the individual's
    _close(out, 8, "ADRESSESPRESTADOSS")
    _coordpaie(out, record.bank)
    if isinstance(record, PaymentRecord):  # an address-correction record pays nothing (§4.9)
        _element_paiement(out, record)
    _close(out, 7, "PRESTADOSS")


def _coordpaie(out: list[str], account: BankAccount, depth: int = 8, wrapper: str = "COORDPAIESPRESTADOSS") -> None:
    _open(out, depth, wrapper)
    _open(out, depth + 1, "COORDPAIE")
    _fields(out, depth + 2, ("CODETYPECOORDPAIE", "PRINCIPALE"), ("CODEMODEREGLEMENT", "135"),
            ("INTITDEST", account.holder))
    _open(out, depth + 2, "IBAN")
    _fields(out, depth + 3, ("BIC", account.bic), ("CLECONTROL", account.check_digits), ("ZONEBBAN", account.bban),
            ("CODEISOPAYS", account.country))
    for inner, name in ((depth + 2, "IBAN"), (depth + 1, "COORDPAIE"), (depth, wrapper)):
        _close(out, inner, name)


def _element_paiement(out: list[str], record: PaymentRecord) -> None:
    names = ("LISTEELEMENTPAIEMENT", "ELEMENTPAIEMENT")
    _open(out, 8, names[0])
    _open(out, 9, names[1])
    _fields(out, 10, ("CODEOBJET", "VERSE001"))
    _open(out, 10, "LISTEVERSEMENT")
    _open(out, 11, "VERSEMENT")
    _fields(out, 12, ("CODETYPEVERSEMENT", "PAIEMENT"))
    _open(out, 12, "LISTEFINANCEMENT")
    _open(out, 13, "FINANCEMENT")
    _fields(out, 14, ("MTTOTALFINANCEMENT", record.amount_euros), ("USPRINC", record.unite_suivi))
    for depth, name in ((13, "FINANCEMENT"), (12, "LISTEFINANCEMENT"), (11, "VERSEMENT"), (10, "LISTEVERSEMENT"),
                        (9, names[1]), (8, names[0])):
        _close(out, depth, name)
