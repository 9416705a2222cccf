"""The HTTP layer: the hub-managed services (the data gateway, the production service, the
review and admin consoles) and what they share."""
