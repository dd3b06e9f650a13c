"""aplypro_students."""
