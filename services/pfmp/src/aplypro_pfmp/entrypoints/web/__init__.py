"""The schools' web application: the pfmp service's HTTP entrypoint (FastAPI, Jinja2 pages with the DSFR)."""
