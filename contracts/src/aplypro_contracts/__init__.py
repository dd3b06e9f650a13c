"""aplypro_contracts."""
