"""Reading speed of the ASP's return files: a 7,000-record payments return (the ASP's per-file cap) and a
7,000-line integrations CSV, each read whole into typed lines, against a bare parse of the same bytes.

    uv run --frozen python bench/asp_ingest.py --count 7000 --repeat 7

Yardsticks in the same run: `lxml.etree.parse` of the payments bytes (a tree, nothing read out of it) and
`csv.reader` over the decoded integrations text. Times are the median of --repeat runs after one warm-up.
The last line is `payments_s=<s> integrations_s=<s> payments_ratio=<ours/lxml> integrations_ratio=<ours/csv>`.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import time
from collections.abc import Callable

from aplypro_asp_gateway.adapters.returns import read_return_bytes
from aplypro_asp_gateway.domain.return_lines import LineState
from lxml import etree

NS = "http://www.cnasea.fr/fichier"
CODES = ("ICO", "IDR", "INR", "IPR", "RJT", "SFR", "IAL")


def payments(count: int) -> bytes:
    """Realistic records: 95 % PAYE with amounts in cents, IBAN and date; 5 % INVALIDE with a §6.2 code."""
    out = io.StringIO()
    out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<LISTEPAIEMENT xmlns="{NS}">\n')
    for n in range(count):
        presta = f"<LISTEPRESTADOSS><PRESTADOSS><IDPRESTADOSS>{9800000 + n}</IDPRESTADOSS></PRESTADOSS>" \
                 "</LISTEPRESTADOSS>"
        if n % 20 == 7:
            body = (f"<ETATPAIEMENT>INVALIDE</ETATPAIEMENT>\n    {presta}\n    <CODEMOTIFINVAL>{CODES[n % 7]}"
                    "</CODEMOTIFINVAL>\n    <LIBELLEMOTIFINVAL>Compte clos</LIBELLEMOTIFINVAL>")
        else:
            euros, cents = 150 + (n * 15) % 1050, (n * 7) % 4 * 25
            body = (f"<ETATPAIEMENT>PAYE</ETATPAIEMENT>\n    {presta}\n    <MTNET>{euros}.{cents:02d}</MTNET>\n"
                    f"    <DATEPAIEMENT>{1 + n % 28:02d}/06/2026</DATEPAIEMENT>\n    <COORDPAIE><CODEISOPAYS>FR"
                    f"</CODEISOPAYS><CLECONTROL>76</CLECONTROL><ZONEBBAN>300060000{n:014d}</ZONEBBAN></COORDPAIE>")
        out.write(f"  <PAIEMENT>\n    {body}\n  </PAIEMENT>\n")
    out.write("</LISTEPAIEMENT>\n")
    return out.getvalue().encode()


def integrations(count: int) -> bytes:
    """§5.1's header and columns, Windows-1252, LF."""
    header = "Numero enregistrement;idIndDoss;idIndTiers;idDoss;numAdmDoss;idPretaDoss;numAdmPrestaDoss;idIndPrestaDoss"
    rows = (f"{100000 + n};{1200000 + n};;{7600000 + n};ENPUA1B2C3D4E520250;{9800000 + n};{50000 + n};{1200000 + n}"
            for n in range(count))
    return ("\n".join([header, *rows]) + "\n").encode("cp1252")


def median_s(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(wall, CPU) medians: on a shared machine the CPU time is the fair figure, the wall time the felt one."""
    work()  # warm-up: imports, regex compilation, allocator
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def show(label: str, figures: tuple[float, float], yardstick: tuple[float, float] | None = None) -> None:
    ratio = f"   ratio {figures[1] / yardstick[1]:.2f} (CPU)" if yardstick else ""
    print(f"  {label:<36} wall {figures[0] * 1000:8.1f} ms   CPU {figures[1] * 1000:8.1f} ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=7000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    pay_bytes, int_bytes = payments(args.count), integrations(args.count)
    pay_name = "renvoi_paiement_APLYPROMOCK_20260605.xml"
    int_name = "identifiants_generes_nps_ficimport_idp_aplypro_test_dev_20260520013000.csv"

    parsed = read_return_bytes(pay_name, pay_bytes)
    assert len(parsed.lines) == args.count
    assert parsed.lines[0].state is LineState.PAID
    assert sum(1 for x in parsed.lines if x.state is LineState.UNPAID) == len(range(7, args.count, 20))
    assert len(read_return_bytes(int_name, int_bytes).lines) == args.count

    ours_pay = median_s(lambda: read_return_bytes(pay_name, pay_bytes), args.repeat)
    bare_pay = median_s(lambda: etree.parse(io.BytesIO(pay_bytes)), args.repeat)
    ours_int = median_s(lambda: read_return_bytes(int_name, int_bytes), args.repeat)
    bare_int = median_s(lambda: list(csv.reader(io.StringIO(int_bytes.decode("cp1252"), newline=""),
                                                delimiter=";")), args.repeat)

    print(f"payments return: {args.count} records, {len(pay_bytes) / 1e6:.2f} MB")
    show("read into typed lines (iterparse)", ours_pay, bare_pay)
    show("bare lxml.etree.parse (yardstick)", bare_pay)
    print(f"integrations CSV: {args.count} lines, {len(int_bytes) / 1e6:.2f} MB")
    show("read into typed lines", ours_int, bare_int)
    show("bare csv.reader (yardstick)", bare_int)
    print(f"payments_s={ours_pay[0]:.4f} payments_cpu_s={ours_pay[1]:.4f} integrations_s={ours_int[0]:.4f} "
          f"integrations_cpu_s={ours_int[1]:.4f} payments_ratio={ours_pay[1] / bare_pay[1]:.2f} "
          f"integrations_ratio={ours_int[1] / bare_int[1]:.2f}")


if __name__ == "__main__":
    main()
