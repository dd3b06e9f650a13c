"""FREGATA, the agriculture ministry's (MASA) student API (imports.md §3.2): a signed client and the
normalisation of its one payload. Shares api_errors and api_retry with the SYGNE client."""
