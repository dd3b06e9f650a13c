"""Sample ASP return files written per asp-exchange.md §5, as the ASP (or the fake server) would drop them:
CSV answers in Windows-1252 with `;`, payment and recovery XML in UTF-8 with the mocks' namespace."""

from __future__ import annotations

from collections.abc import Iterable

NS = "http://www.cnasea.fr/fichier"
UPLOAD = "nps_ficimport_idp_aplypro_test_dev_20260520013000"
INTEGRATIONS_NAME = f"identifiants_generes_{UPLOAD}.csv"
REJECTS_NAME = f"rejets_integ_idp_{UPLOAD}.csv"
CORRECTION_UPLOAD = "nps_ficimport_correction_adresse_idp_aplypro_test_dev_20260521013000"
PAYMENTS_NAME = "renvoi_paiement_APLYPROTEST_20260605.xml"
RECOVERY_NAME = "renvoi_ordrereversement_APLYPROMOCK_20260612.xml"

INTEGRATIONS_HEADER = ("Numero enregistrement;idIndDoss;idIndTiers;idDoss;numAdmDoss;idPretaDoss;numAdmPrestaDoss;"
                       "idIndPrestaDoss")
REJECTS_HEADER = "Numéro d'enregistrement;Type d'entité;Numadm;Motif rejet;idIndDoublon"
DOC_INTEGRATION_LINE = "4242;1234890;;7654402;DOSS;9876610;51234;1234890"  # §5.1
DOC_REJECT_LINE = "4242;;;Le numéro administratif ENPUA1B2C3D4E520250 n'est pas unique;"  # §5.2

# §5.3's sample, byte for byte
DOC_PAYMENTS = f"""<?xml version="1.0" encoding="UTF-8"?>
<LISTEPAIEMENT xmlns="{NS}">
  <PAIEMENT>
    <ETATPAIEMENT>PAYE</ETATPAIEMENT>
    <LISTEPRESTADOSS><PRESTADOSS><IDPRESTADOSS>9876610</IDPRESTADOSS></PRESTADOSS></LISTEPRESTADOSS>
    <MTNET>300.00</MTNET>
    <DATEPAIEMENT>05/06/2026</DATEPAIEMENT>
    <COORDPAIE><CODEISOPAYS>FR</CODEISOPAYS><CLECONTROL>76</CLECONTROL><ZONEBBAN>30006000011234567890189</ZONEBBAN></COORDPAIE>
  </PAIEMENT>
  <PAIEMENT>
    <ETATPAIEMENT>INVALIDE</ETATPAIEMENT>
    <LISTEPRESTADOSS><PRESTADOSS><IDPRESTADOSS>9876543</IDPRESTADOSS></PRESTADOSS></LISTEPRESTADOSS>
    <CODEMOTIFINVAL>RJT</CODEMOTIFINVAL>
    <LIBELLEMOTIFINVAL>Compte clos</LIBELLEMOTIFINVAL>
  </PAIEMENT>
</LISTEPAIEMENT>
""".encode()

# §5.4's sample (a PFMP paid 450 € later rectified to 300 €)
DOC_RECOVERY = f"""<LISTEOR xmlns="{NS}">
  <ORDREREVERSEMENT>
    <ETATPAIEMENT>EMIS</ETATPAIEMENT>
    <LISTEPRESTADOSS><PRESTADOSS><IDPRESTADOSS>9870001</IDPRESTADOSS></PRESTADOSS></LISTEPRESTADOSS>
    <MTDEMANDEOR>-150.00</MTDEMANDEOR>
    <DATEOREFFECTIF>12/06/2026</DATEOREFFECTIF>
  </ORDREREVERSEMENT>
</LISTEOR>
""".encode()


def csv_file(header: str, lines: Iterable[str], encoding: str = "cp1252", newline: str = "\n",
             bom: bool = False) -> bytes:
    text = newline.join([header, *lines]) + newline
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def integration_line(record_id: int, n: int) -> str:
    return f"{record_id};{1200000 + n};;{7600000 + n};DOSS;{9800000 + n};{50000 + n};{1200000 + n}"


def payment(state: str, prestation: str | None, *, net: str | None = None, day: str | None = None,
            code: str | None = None, label: str | None = None, iban: str | None = None,
            extra: str = "", prefix: str = "") -> str:
    """One PAIEMENT element; `prefix` writes it with a namespace prefix instead of the default namespace."""
    p = prefix
    parts = [f"<{p}ETATPAIEMENT>{state}</{p}ETATPAIEMENT>"]
    if prestation is not None:
        parts.append(f"<{p}LISTEPRESTADOSS><{p}PRESTADOSS><{p}IDPRESTADOSS>{prestation}</{p}IDPRESTADOSS>"
                     f"</{p}PRESTADOSS></{p}LISTEPRESTADOSS>")
    for tag, value in (("MTNET", net), ("DATEPAIEMENT", day), ("CODEMOTIFINVAL", code),
                       ("LIBELLEMOTIFINVAL", label)):
        if value is not None:
            parts.append(f"<{p}{tag}>{value}</{p}{tag}>")
    if iban:
        parts.append(f"<{p}COORDPAIE><{p}CODEISOPAYS>{iban[:2]}</{p}CODEISOPAYS><{p}CLECONTROL>{iban[2:4]}"
                     f"</{p}CLECONTROL><{p}ZONEBBAN>{iban[4:]}</{p}ZONEBBAN></{p}COORDPAIE>")
    return f"  <{p}PAIEMENT>\n    " + "\n    ".join(parts) + extra + f"\n  </{p}PAIEMENT>\n"


def payments_file(records: Iterable[str], namespace: bool = True) -> bytes:
    opening = f'<LISTEPAIEMENT xmlns="{NS}">' if namespace else "<LISTEPAIEMENT>"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + opening + "\n" + "".join(records)
            + "</LISTEPAIEMENT>\n").encode()


def generated_payments(count: int) -> bytes:
    """`count` realistic records: mostly PAYE with varied amounts, one in twenty INVALIDE with a §6.2 code."""
    codes = ("ICO", "IDR", "INR", "IPR", "RJT", "SFR", "IAL")
    records = []
    for n in range(count):
        prestation = str(9800000 + n)
        if n % 20 == 7:
            records.append(payment("INVALIDE", prestation, code=codes[n % len(codes)], label="Compte clos"))
        else:
            euros, cents = 150 + (n * 15) % 1050, (n * 7) % 4 * 25
            records.append(payment("PAYE", prestation, net=f"{euros}.{cents:02d}", day="05/06/2026",
                                   iban="FR7630006000011234567890189"))
    return payments_file(records)


def generated_integrations(count: int) -> bytes:
    return csv_file(INTEGRATIONS_HEADER, (integration_line(100000 + n, n) for n in range(count)))
