"""`aplypro-pfmp web`: serve the schools' web application (a process of its own beside `run`, so page
rendering never blocks the consumer's event loop and the two scale apart)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def web() -> None:
        """Serve the web application on APLYPRO_WEB_HOST:APLYPRO_WEB_PORT (OIDC settings: APLYPRO_WEB_OIDC_*, login
        realms: APLYPRO_WEB_OIDC_REALMS); a wrong setting stops it with exit code 2, naming the variable."""
        import uvicorn
        from aplypro_servicekit.logs import configure_logging
        from pydantic import ValidationError

        from aplypro_pfmp.config import PfmpSettings

        from .web.app import create_app
        from .web.settings import WebSettings

        settings = PfmpSettings()
        try:
            web_settings = WebSettings()
        except ValidationError as exc:  # refuse to start, saying which setting; never the value (a secret?)
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "settings"
                typer.echo(f"invalid web setting {where}: {error['msg']}", err=True)
            raise typer.Exit(2) from None
        configure_logging("pfmp-web", settings.log_level, settings.log_json)
        # No access log: it would add nothing but paths (ids only) and it bypasses the denylist processor.
        uvicorn.run(create_app(settings, web_settings), host=web_settings.host, port=web_settings.port,
                    access_log=False, proxy_headers=True)

    @app.command()
    def openapi(output: Path = Path("docs/web-api.openapi.json")) -> None:
        """Write the OpenAPI document of the web application's JSON API."""
        from .web.api import openapi_document

        output.write_text(openapi_document(), encoding="utf-8")
        typer.echo(str(output))
