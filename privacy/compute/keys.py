"""Join keys, normalised the same way on both nodes before PSI.

Both sides must turn "110101-1990 0101 123x" and "１１０１０１１９９００１０１１２３X" into the same
string, or PSI misses rows that a person would call equal.
"""

from __future__ import annotations

import unicodedata

import pandas as pd

_DROP = str.maketrans(
    "", "", " \t\r\n-_\u2010\u2011\u2012\u2013\u2014\u2212\u3000\u200b\u200c\u200d\ufeff"
)


def normalise(key: object) -> str:
    """Strip, full-width to half-width (NFKC), drop spaces and dashes, upper-case."""
    if key is None or (isinstance(key, float) and key != key):
        return ""
    text = unicodedata.normalize("NFKC", str(key)).strip()
    return text.translate(_DROP).upper()


def normalise_column(column: pd.Series) -> pd.Series:
    return column.map(normalise)
