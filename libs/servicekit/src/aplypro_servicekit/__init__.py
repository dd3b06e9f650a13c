"""Domain-free runtime shared by the services: settings, outbox, inbox, dead letters, logging."""
