"""Production rules (``PRODUCTION_RULES`` in ``jupyterhub_config.py``): job limits, auto-approval,
publishing bounds. The model and its defaults live in :mod:`hub.settings`."""

from hub.settings import ProductionRules

__all__ = ["ProductionRules"]
