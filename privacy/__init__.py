"""Privacy computing between the domain and outside parties (Z4): nodes, their wire and the MPC.

Two kinds of node run the same code:

- the **platform node**, inside the domain next to the raw store, started by the production
  service for one approved computation with the approved public columns already projected;
- a **party node** (``shuyu party serve``), on an outside organisation's own machine next to its
  own CSV/Parquet files, long-running.

Nodes talk only to each other, over mutually authenticated TLS, each on one port (see
:mod:`privacy.relay`). The MPC itself (SecretFlow SPU: PSI, secret-shared statistics and vertical
training) lives in :mod:`privacy.compute` and runs in an environment of its own (``.venv-spu``:
SPU needs numpy < 2 and jax <= 0.4.34, the platform numpy 2). Everything else in this package —
the computation spec, certificates, bundles, the control protocol — needs only the standard
library and ``cryptography``, so the hub imports it from the platform's environment.
"""
