"""Column masking operators applied hub-side before data reaches a tenant."""
