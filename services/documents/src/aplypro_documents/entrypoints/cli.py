"""`aplypro-documents`: run the service."""

from __future__ import annotations

import typer
from aplypro_servicekit.cli import run_service

from aplypro_documents.config import DocumentsSettings
from aplypro_documents.entrypoints.service import build_spec

app = typer.Typer(help="Documents: décisions d'attribution and other official documents.", no_args_is_help=True)


@app.command()
def run() -> None:
    """Run the service: consume students and calculator events, render and store decisions."""
    settings = DocumentsSettings()
    run_service(build_spec(settings), settings)


@app.command()
def version() -> None:
    """Print the package version."""
    typer.echo("aplypro-documents 0.1.0")


def main() -> None:
    app()
