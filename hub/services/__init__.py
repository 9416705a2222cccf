"""Hub-managed services: the data gateway, the production service and the two consoles."""
