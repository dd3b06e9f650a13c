"""aplypro_calculator."""
