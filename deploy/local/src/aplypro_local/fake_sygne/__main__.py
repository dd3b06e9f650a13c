"""`python -m aplypro_local.fake_sygne [PORT]`: serve the sample establishment until interrupted."""

from __future__ import annotations

import sys

from aplypro_local.fake_sygne.sample import sample_state
from aplypro_local.fake_sygne.server import serve
from aplypro_local.http_thread import print_settings_until_interrupted


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with serve(sample_state(), port=port) as server:
        print_settings_until_interrupted(server.env())


if __name__ == "__main__":
    main()
