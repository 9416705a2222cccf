"""Requests under platform review: one lifecycle for every kind (:mod:`hub.kinds`), automated
disclosure checks, and the reviewers' decisions."""
