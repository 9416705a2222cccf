"""Demo world for Shuyu: synthetic raw datasets of a city's data-provider departments."""
