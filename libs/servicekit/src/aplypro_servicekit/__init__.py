"""aplypro_servicekit."""
