"""The fake ASP run alone (`python -m aplypro_local.fake_asp`): its command line reaches every §10 option of
`Behaviour`, and with `--xsd --pay-every` it checks uploads against the project's XSD and pays on its own."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from aplypro_asp_gateway.adapters.sftp import SftpConfig, SftpTransport
from aplypro_local.fake_asp import Behaviour, generate_keys, well_formed
from aplypro_local.fake_asp.__main__ import _arguments, behaviour_from
from aplypro_local.fake_asp.options import AnswerOptions, PaymentOptions
from aplypro_local.fake_asp.schema import project_xsd

from .fake_asp_world import sample_file
from .test_sftp_fake_asp import upload

REQUIRED = ["--root", "r", "--host-key", "k", "--authorized-keys", "a"]
NAME = "nps_ficimport_idp_aplypro_test_dev_20260520013000.xml"


def test_without_options_the_fake_behaves_as_the_default_behaviour() -> None:
    behaviour = behaviour_from(_arguments(REQUIRED))
    default = Behaviour()
    assert behaviour == Behaviour(validate=well_formed, faults=default.faults)
    assert behaviour.validate is well_formed


def test_every_option_reaches_the_behaviour() -> None:
    args = _arguments([
        *REQUIRED, "--seed", "3", "--keep-uploads", "--password", "pw",
        "--xsd", "--invalid-file-reason", "La coordonnée de paiement est invalide", "--reject-rate", "0.1",
        "--duplicate-record", "integrate", "--max-records-per-file", "5", "--max-files-per-day", "2",
        "--max-records-per-week", "9", "--correction-mismatch-rate", "0.5",
        "--split-answers", "--duplicate-lines", "--unknown-record", "--answers-encoding", "utf-8", "--crlf",
        "--unrelated-file",
        "--pay-every", "2", "--unpaid-rate", "0.2", "--invalid-recovery-rate", "0.3",
        "--mtnet-after-rectification", "total", "--recovery-sign", "+", "--payments-code", "APLYPROTEST",
        "--payment-naming", "same_day", "--payment-fault", "unknown_state", "--payment-fault", "repeat_record",
        "--no-namespace",
        "--disconnect-after-bytes", "100", "--disconnects", "2", "--delay", "0.5", "--fail-renames", "1",
        "--fail-removes", "3", "--deliver-twice", "--truncate-returns",
    ])
    b = behaviour_from(args)
    assert args.pay_every == 2
    assert b.validate is project_xsd
    assert (b.seed, b.remove_taken, b.password, b.invalid_file_reason, b.reject_rate, b.duplicate_record) == (
        3, False, "pw", "La coordonnée de paiement est invalide", 0.1, "integrate")
    assert (b.max_records_per_file, b.max_files_per_day, b.max_records_per_week, b.correction_mismatch_rate) == (
        5, 2, 9, 0.5)
    assert b.answers == AnswerOptions(split=True, duplicate_lines=True, unknown_record=True, encoding="utf-8",
                                      line_ending="\r\n", unrelated_file=True)
    assert (b.unpaid_rate, b.invalid_recovery_rate, b.mtnet_after_rectification, b.recovery_sign,
            b.payments_code) == (0.2, 0.3, "total", "+", "APLYPROTEST")
    assert b.payments == PaymentOptions(unknown_state=True, repeat_record=True, namespace=False, naming="same_day")
    f = b.faults
    assert (f.disconnect_after_bytes, f.disconnects, f.delay_s, f.fail_renames, f.fail_removes, f.deliver_twice,
            f.truncate_returns) == (100, 2, 0.5, 1, 3, True, True)


async def test_run_alone_with_xsd_and_pay_every_it_answers_valid_files_and_pays_them(tmp_path: Path) -> None:
    keys = generate_keys(tmp_path / "keys")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aplypro_local.fake_asp", "--root", str(tmp_path / "asp"),
        "--host-key", str(keys.host_key), "--authorized-keys", str(keys.authorized_keys),
        "--xsd", "--pay-every", "0.2", "--payments-code", "CLIPAY", stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        started = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(started["known_hosts"] + "\n")
        transport = SftpTransport(SftpConfig(host="127.0.0.1", port=started["port"], user="aplypro",
                                             known_hosts=known_hosts, key_path=keys.client_key, timeout_s=10))
        broken = NAME.replace("013000", "013001")
        await upload(transport, broken, sample_file(4243).replace(b"<CODE>D</CODE>", b"<CODE>X</CODE>"))
        await upload(transport, NAME, sample_file(4242))

        retour = tmp_path / "asp" / "retour"
        deadline = time.monotonic() + 30
        while not (paid := sorted(retour.glob("renvoi_paiement_CLIPAY_*.xml"))):
            assert time.monotonic() < deadline, sorted(p.name for p in retour.iterdir())
            await asyncio.sleep(0.1)
        # The file outside the XSD got no answer at all; the valid one was integrated, then paid.
        assert sorted(p.name for p in retour.glob("*.csv")) == [
            f"identifiants_generes_{NAME[:-4]}.csv", f"rejets_integ_idp_{NAME[:-4]}.csv"]
        assert len(paid) == 1
        assert b"<ETATPAIEMENT>PAYE</ETATPAIEMENT>" in paid[0].read_bytes()
    finally:
        process.terminate()
        await process.wait()
