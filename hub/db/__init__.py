"""The platform database: models, engine and migrations."""
