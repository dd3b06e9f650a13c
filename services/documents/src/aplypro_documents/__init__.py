"""aplypro_documents."""
