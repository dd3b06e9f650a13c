"""SYGNE, the MENJ student API (imports.md §3.1): an OAuth2 client and the normalisation of its payloads.

A FREGATA client sits beside this package (adapters/fregata), sharing api_errors and api_retry.
"""
