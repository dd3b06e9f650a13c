"""`aplypro-documents` (and `python -m aplypro_documents`): the CLI, imported only when called.

Every spawned child of the service (relay, extra consumer processes, render workers) runs this console
script again before its own target: importing the whole CLI there would cost each start seconds of CPU.
"""

from __future__ import annotations


def main() -> None:
    from aplypro_documents.entrypoints.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
