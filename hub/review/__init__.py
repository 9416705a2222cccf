"""Requests under platform review: one lifecycle for every kind (export now; training,
publishing and import later), automated disclosure checks, and the reviewers' decisions."""
