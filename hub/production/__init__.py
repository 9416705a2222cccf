"""The production zone (Z2): approved training jobs run on raw data; models become products."""
