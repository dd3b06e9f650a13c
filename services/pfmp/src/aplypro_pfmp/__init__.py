"""aplypro_pfmp."""
