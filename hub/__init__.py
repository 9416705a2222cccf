"""Shuyu hub side: platform DB, admission, authenticators, audit trail, admin CLI."""
