"""Fees: a price book by scenario category, quotes and budget caps, monthly statements."""
