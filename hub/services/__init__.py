"""Hub-managed services: the data gateway (and, later, the console)."""
