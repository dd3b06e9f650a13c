"""`python -m aplypro_local.fake_fregata [PORT]`: serve the sample agricultural school until interrupted."""

from __future__ import annotations

import sys
import time

from aplypro_local.fake_fregata.sample import sample_state
from aplypro_local.fake_fregata.server import serve


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with serve(sample_state(), port=port) as server:
        for key, value in server.env().items():
            print(f"{key}={value}")  # noqa: T201 - the settings to give the students service
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
