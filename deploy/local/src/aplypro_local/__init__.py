"""aplypro_local."""
