"""`python -m aplypro_local.fake_asp --port P --root DIR --host-key KEY --authorized-keys FILE`: run the fake
ASP until interrupted. The host key is generated when the file does not exist; the first line printed is a
JSON object with the port and the known_hosts line a client needs."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from aplypro_local.fake_asp.behaviour import Behaviour, Faults
from aplypro_local.fake_asp.keys import ensure_host_key, known_hosts_line
from aplypro_local.fake_asp.server import FakeAsp


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m aplypro_local.fake_asp", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--root", type=Path, required=True, help="holds the depot/ and retour/ folders")
    parser.add_argument("--host-key", type=Path, required=True)
    parser.add_argument("--authorized-keys", type=Path, required=True)
    parser.add_argument("--password", help="also accept password authentication with this password")
    parser.add_argument("--reject-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--correction-mismatch-rate", type=float, default=0.0,
                        help="share of address-correction records answered with another dossier id (§5.5)")
    parser.add_argument("--keep-uploads", action="store_true", help="leave taken files in the drop folder")
    parser.add_argument("--disconnect-after-bytes", type=int, help="cut the next upload after N bytes")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds every SFTP operation waits")
    parser.add_argument("--deliver-twice", action="store_true")
    parser.add_argument("--truncate-returns", action="store_true")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    host_public = ensure_host_key(args.host_key)
    behaviour = Behaviour(
        reject_rate=args.reject_rate, seed=args.seed, remove_taken=not args.keep_uploads, password=args.password,
        correction_mismatch_rate=args.correction_mismatch_rate,
        faults=Faults(disconnect_after_bytes=args.disconnect_after_bytes, delay_s=args.delay,
                      deliver_twice=args.deliver_twice, truncate_returns=args.truncate_returns))
    fake = FakeAsp(args.root, args.host_key, args.authorized_keys, behaviour)
    port = await fake.start(args.host, args.port)
    sys.stdout.write(json.dumps({"port": port, "root": str(fake.root),
                                 "known_hosts": known_hosts_line(args.host, port, host_public).strip()}) + "\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def main(argv: list[str] | None = None) -> None:
    try:
        asyncio.run(_serve(_arguments(argv)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
