"""Shuyu processor SDK: a pure HTTP + pandas client of the data gateway. Imports nothing from ``hub``."""
