"""`python -m aplypro_local.fake_asp --port P --root DIR --host-key KEY --authorized-keys FILE [options]`: run the
fake ASP until interrupted. The host key is generated when the file does not exist; the first line printed is a
JSON object with the port and the known_hosts line a client needs. Every option sets a field of `Behaviour`
(behaviour.py, options.py: asp-exchange.md §10); `--pay-every S` makes it pay (and issue recovery orders for)
what it integrated every S seconds, as the ASP's payment runs would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path

from aplypro_local.fake_asp.behaviour import Behaviour, Faults, well_formed
from aplypro_local.fake_asp.keys import ensure_host_key, known_hosts_line
from aplypro_local.fake_asp.options import AnswerOptions, PaymentOptions
from aplypro_local.fake_asp.schema import project_xsd
from aplypro_local.fake_asp.server import FakeAsp

PAYMENT_FAULTS = ("unknown_state", "two_prestations", "repeat_record", "unknown_prestation")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m aplypro_local.fake_asp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--root", type=Path, required=True, help="holds the depot/ and retour/ folders")
    parser.add_argument("--host-key", type=Path, required=True)
    parser.add_argument("--authorized-keys", type=Path, required=True)
    parser.add_argument("--password", help="also accept password authentication with this password")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-uploads", action="store_true", help="leave taken files in the drop folder")

    upload = parser.add_argument_group("uploads (§10 pick-up)")
    upload.add_argument("--xsd", action="store_true", help="check each upload against the project's XSD "
                        "(default: well-formed XML only)")
    upload.add_argument("--invalid-file-reason", help="reject every record of a file failing the check with this "
                        "reason (default: no answer at all)")
    upload.add_argument("--reject-rate", type=float, default=0.0, help="share of records rejected with a §6.1 reason")
    upload.add_argument("--duplicate-record", choices=("reject", "integrate"), default="reject",
                        help="answer to an idEnregistrement received in an earlier file")
    upload.add_argument("--max-records-per-file", type=int, default=7000)
    upload.add_argument("--max-files-per-day", type=int, default=10)
    upload.add_argument("--max-records-per-week", type=int, default=100_000)
    upload.add_argument("--correction-mismatch-rate", type=float, default=0.0,
                        help="share of address-correction records answered with another dossier id (§5.5)")

    answers = parser.add_argument_group("answers (integrations and rejects CSV, §5.1, §5.2)")
    answers.add_argument("--split-answers", action="store_true", help="half the lines now, the rest at the next "
                         "pick-up")
    answers.add_argument("--duplicate-lines", action="store_true", help="every line written twice")
    answers.add_argument("--unknown-record", action="store_true", help="one more line for a record never sent")
    answers.add_argument("--answers-encoding", choices=("cp1252", "utf-8"), default="cp1252")
    answers.add_argument("--crlf", action="store_true", help="CRLF line endings")
    answers.add_argument("--unrelated-file", action="store_true", help="an unrelated file beside each answer")

    pay = parser.add_argument_group("payments and recovery orders (§5.3, §5.4)")
    pay.add_argument("--pay-every", type=float, default=0.0, metavar="SECONDS",
                     help="emit payments and recovery orders of what was integrated every SECONDS (0: never)")
    pay.add_argument("--unpaid-rate", type=float, default=0.0, help="share of payments INVALIDE (§6.2 code)")
    pay.add_argument("--invalid-recovery-rate", type=float, default=0.0, help="share of recovery orders INVALIDE")
    pay.add_argument("--mtnet-after-rectification", choices=("difference", "total"), default="difference")
    pay.add_argument("--recovery-sign", choices=("-", "+"), default="-", help="sign of MTDEMANDEOR")
    pay.add_argument("--payments-code", default="APLYPROMOCK", help="<CODE> of renvoi_paiement_<CODE>_<YYYYMMDD>.xml")
    pay.add_argument("--payment-naming", choices=("new_code", "same_day"), default="new_code",
                     help="same_day: one name a day, appended to or re-used")
    pay.add_argument("--payment-fault", action="append", choices=PAYMENT_FAULTS, default=[],
                     help="change the first PAIEMENT of each payments file so (repeatable)")
    pay.add_argument("--no-namespace", action="store_true", help="payment returns without xmlns")

    faults = parser.add_argument_group("faults")
    faults.add_argument("--disconnect-after-bytes", type=int, help="cut an upload after N bytes")
    faults.add_argument("--disconnects", type=int, default=1, help="how many uploads are cut")
    faults.add_argument("--delay", type=float, default=0.0, help="seconds every SFTP operation waits")
    faults.add_argument("--fail-renames", type=int, default=0, help="refuse the next N renames")
    faults.add_argument("--fail-removes", type=int, default=0, help="refuse the next N removes in the read folder")
    faults.add_argument("--deliver-twice", action="store_true")
    faults.add_argument("--truncate-returns", action="store_true")
    return parser.parse_args(argv)


def behaviour_from(args: argparse.Namespace) -> Behaviour:
    """The command line as the fake's Behaviour."""
    return Behaviour(
        reject_rate=args.reject_rate, seed=args.seed, remove_taken=not args.keep_uploads, password=args.password,
        validate=project_xsd if args.xsd else well_formed, invalid_file_reason=args.invalid_file_reason,
        duplicate_record=args.duplicate_record, max_records_per_file=args.max_records_per_file,
        max_files_per_day=args.max_files_per_day, max_records_per_week=args.max_records_per_week,
        correction_mismatch_rate=args.correction_mismatch_rate,
        unpaid_rate=args.unpaid_rate, invalid_recovery_rate=args.invalid_recovery_rate,
        mtnet_after_rectification=args.mtnet_after_rectification, recovery_sign=args.recovery_sign,
        payments_code=args.payments_code,
        answers=AnswerOptions(split=args.split_answers, duplicate_lines=args.duplicate_lines,
                              unknown_record=args.unknown_record, encoding=args.answers_encoding,
                              line_ending="\r\n" if args.crlf else "\n", unrelated_file=args.unrelated_file),
        payments=PaymentOptions(**{fault: True for fault in args.payment_fault}, namespace=not args.no_namespace,
                                naming=args.payment_naming),
        faults=Faults(disconnect_after_bytes=args.disconnect_after_bytes, disconnects=args.disconnects,
                      delay_s=args.delay, fail_renames=args.fail_renames, fail_removes=args.fail_removes,
                      deliver_twice=args.deliver_twice, truncate_returns=args.truncate_returns))


async def _pay(fake: FakeAsp, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        fake.emit_payments()
        fake.emit_recovery_orders()


async def _serve(args: argparse.Namespace) -> None:
    host_public = ensure_host_key(args.host_key)
    fake = FakeAsp(args.root, args.host_key, args.authorized_keys, behaviour_from(args))
    port = await fake.start(args.host, args.port)
    sys.stdout.write(json.dumps({"port": port, "root": str(fake.root),
                                 "known_hosts": known_hosts_line(args.host, port, host_public).strip()}) + "\n")
    sys.stdout.flush()
    payer = asyncio.create_task(_pay(fake, args.pay_every)) if args.pay_every > 0 else None
    try:
        await asyncio.Event().wait()
    finally:
        if payer is not None:
            payer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await payer
        await fake.close()


def main(argv: list[str] | None = None) -> None:
    try:
        asyncio.run(_serve(_arguments(argv)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
