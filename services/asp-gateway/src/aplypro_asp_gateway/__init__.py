"""aplypro_asp_gateway."""
