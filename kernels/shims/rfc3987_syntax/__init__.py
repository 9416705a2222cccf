"""Workspace shim: make ``rfc3987_syntax`` unavailable inside workspaces.

The real package compiles an Earley grammar when imported (about 1.4 s here), and jsonschema
imports it at start-up of every server only to offer an optional "iri" format check that Jupyter's
schemas do not use. jsonschema treats its absence as normal.
"""

raise ImportError("rfc3987_syntax is not used in Shuyu workspaces")
