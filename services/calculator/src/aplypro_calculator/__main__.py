"""`aplypro-calculator` (and `python -m aplypro_calculator`): the CLI, imported only when called.

Every spawned child of the service (relay, extra consumer processes) runs this console
script again before its own target: importing the whole CLI there would cost each start seconds of CPU.
"""

from __future__ import annotations


def main() -> None:
    from aplypro_calculator.entrypoints.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
