"""The hub's side of privacy computing: the authority and the platform node's credentials
(:mod:`hub.privacy.authority`), the platform node's commands (:mod:`hub.privacy.node`) and what
the production zone does with a computation's result (:mod:`hub.privacy.results`).

The hub never opens a socket to a party: it runs ``python -m privacy hello|propose|run`` (the
``privacy`` package, in the SPU environment) and reads what they write.
"""
