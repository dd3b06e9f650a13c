"""Fictitious documents for the benchmark, the tests and the README sample. No real person."""

from collections.abc import Callable
from datetime import UTC, date, datetime

from aplypro_documents.domain.model import (
    Abrogation,
    AbrogationMotive,
    AttributionDecision,
    BankAccount,
    Document,
    DocumentKind,
    Establishment,
    LiquidationSection,
    LiquidationStatement,
    Ministry,
    PostalAddress,
    Signatory,
    Student,
    Training,
    Withdrawal,
)
from aplypro_documents.domain.numbering import budget_prefix, da_number, pfmp_number

LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
              "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "N'Diaye")  # fmt: skip
FIRST_NAMES = ("Léa", "Hugo", "Chloé", "Louis", "Inès", "Gabriel", "Zoé", "Noah", "Maëlys",
               "Raphaël", "Anaïs", "Jules", "Éloïse", "Adam", "Océane", "Timéo")  # fmt: skip
CITIES = (("69003", "Lyon"), ("13001", "Marseille"), ("59000", "Lille"), ("35000", "Rennes"),
          ("33000", "Bordeaux"), ("97400", "Saint-Denis"), ("67000", "Strasbourg"))  # fmt: skip

ESTABLISHMENT = Establishment(
    uai="0691234A",
    name="Lycée professionnel Jacquard",
    address=PostalAddress("12 rue des Canuts", "", "69004", "Lyon"),
    email="ce.0691234a@ac-lyon.fr",
    phone="04 72 00 00 00",
)
SIGNATORY = Signatory(
    user_id="00000000-0000-4000-8000-000000000001",
    name="Claire Fontaine",
    function="Proviseure",
    confirmed_at=datetime(2025, 9, 1, 8, 30, tzinfo=UTC),
)
TRAINING = Training("2473121332", "BAC PRO MÉTIERS DE LA MODE - VÊTEMENT (TERMINALE)", Ministry.MENJ)


def student(index: int) -> Student:
    postcode, city = CITIES[index % len(CITIES)]
    return Student(
        last_name=f"{LAST_NAMES[index % len(LAST_NAMES)]}-{index:05d}",
        first_names=FIRST_NAMES[(index * 7) % len(FIRST_NAMES)],
        birth_date=date(2007 + index % 3, 1 + index % 12, 1 + index % 28),
        address=PostalAddress(f"{1 + index % 120} avenue de la République", "", postcode, city),
    )


def admin_number(index: int) -> str:
    """Deterministic stand-in for administrative_number(), so runs are comparable."""
    return f"BENCH{index:05d}"


TRAININGS = (
    TRAINING,
    Training("2403320322", "CAP CUISINE (2E ANNEE)", Ministry.MENJ),
    Training("2763310231", "BAC PRO CONDUITE DE PRODUCTIONS AGRICOLES (SECONDE)", Ministry.MASA),
)
CLASS_SIZE = 28  # classes hold 12 to 35 students (documents.md §9)


def establishment(number: int) -> Establishment:
    return Establishment(
        uai=f"{690000 + number:07d}{'ABCDEFGH'[number % 8]}",
        name=f"Lycée professionnel n° {number}",
        address=PostalAddress(f"{number} rue de l'Industrie", "BP 12", "69100", "Villeurbanne"),
        email=f"ce.{690000 + number:07d}@ac-lyon.fr",
        phone="04 78 00 00 00",
    )


def class_decisions(count: int) -> list[AttributionDecision]:
    """A bulk issue: classes of CLASS_SIZE students, three classes (MEFs) per establishment."""
    decisions = []
    for index in range(count):
        group = index // CLASS_SIZE
        decisions.append(
            attribution(index, school=establishment(group // 3), training=TRAININGS[group % 3])
        )
    return decisions


def attribution(
    index: int, *, version: int = 1, school: Establishment = ESTABLISHMENT, training: Training = TRAINING
) -> AttributionDecision:
    return AttributionDecision(
        student=student(index),
        establishment=school,
        signatory=SIGNATORY,
        training=training,
        school_year=2025,
        daily_rate_cents=1000 if training.mef_code.endswith("1") else 2000,
        yearly_cap_cents=(1000 if training.mef_code.endswith("1") else 2000) * 5 * 6,
        administrative_number=admin_number(index),
        number=da_number(budget_prefix(training.ministry, "99"), admin_number(index), 2025, version),
        version=version,
        issued_on=date(2025, 9, 15),
    )


def abrogation(index: int) -> Abrogation:
    return Abrogation(
        student=student(index),
        establishment=ESTABLISHMENT,
        signatory=SIGNATORY,
        school_year=2025,
        administrative_number=admin_number(index),
        decision_number=da_number("ENPU", admin_number(index), 2025, 2),
        motives=(AbrogationMotive.TRAINING_CHANGED, AbrogationMotive.ESTABLISHMENT_LEFT),
        version=1,
        issued_on=date(2026, 2, 1),
    )


def withdrawal(index: int) -> Withdrawal:
    return Withdrawal(
        student=student(index),
        establishment=ESTABLISHMENT,
        signatory=SIGNATORY,
        school_year=2025,
        administrative_number=admin_number(index),
        decision_number=da_number("ENPU", admin_number(index), 2025, 3),
        decision_issued_on=date(2025, 9, 15),
        issued_on=date(2025, 11, 3),
    )


def liquidation(index: int) -> LiquidationStatement:
    number = da_number("ENPU", admin_number(index), 2025, 1)
    return LiquidationStatement(
        student=student(index),
        establishment=ESTABLISHMENT,
        signatory=SIGNATORY,
        school_year=2025,
        administrative_number=admin_number(index),
        decision_number=number,
        ministry=Ministry.MENJ,
        programme="P141 – Enseignement scolaire public du second degré",
        bank_account=BankAccount("FR7630006000011234567890189", "AGRIFRPPXXX", "Famille fictive"),
        version=2,
        sections=(
            LiquidationSection(pfmp_number(number, 1), date(2025, 10, 6), date(2025, 10, 24), 30000,
                               date(2025, 11, 2)),
            LiquidationSection(pfmp_number(number, 1), date(2025, 10, 6), date(2025, 10, 24), 26000,
                               date(2026, 1, 12), rectificative=True),
        ),
    )  # fmt: skip


SAMPLES: dict[DocumentKind, Callable[[int], Document]] = {
    DocumentKind.ATTRIBUTION: attribution,
    DocumentKind.ABROGATION: abrogation,
    DocumentKind.WITHDRAWAL: withdrawal,
    DocumentKind.LIQUIDATION: liquidation,
}


def sample(kind: DocumentKind, index: int = 1) -> Document:
    """One fictitious document of this kind, for fictitious student number `index`."""
    return SAMPLES[kind](index)
