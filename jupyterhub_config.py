"""Shuyu's one configuration surface (JupyterHub traitlets config).

Everything the platform can be configured with is set here; environment variables only feed
defaults (ports for tests, the state folder, the platform DB URL).
"""

import os
import sys
from pathlib import Path

from hub import execution_keys, home, settings, tenancy
from hub.auth import landing, notices
from hub.auth.scopes import CUSTOM_SCOPES, ROLES
from hub.store import StoreError
from hub.web.headers import NO_FRAMING

c = get_config()  # noqa: F821 - provided by JupyterHub
# Loaded by the hub itself (not by a tool that only reads a setting, like the shuyu CLI): only
# then may the configuration touch the host (firewall tables, stale workspace links).
_hub_app = sys.modules.get("jupyterhub.app")  # not imported by tools that only read a setting
HUB_PROCESS = _hub_app is not None and _hub_app.JupyterHub.initialized()

HOME = home.shuyu_home()
CHECKOUT = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent

# --- network: everything on loopback unless told otherwise --------------------------------------
c.JupyterHub.bind_url = (
    f"http://{os.environ.get('SHUYU_IP', '127.0.0.1')}:{os.environ.get('SHUYU_PORT', '8000')}"
)
HUB_PORT = int(os.environ.get("SHUYU_HUB_PORT", "8081"))
# The hub API listens on loopback only, never on every host interface: the proxy and the services
# call it there, and a workspace's link forwards its hub and gateway ports to it (spawner.netns).
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{HUB_PORT}"
c.JupyterHub.hub_connect_url = f"http://127.0.0.1:{HUB_PORT}"
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{os.environ.get('SHUYU_PROXY_API_PORT', '8001')}"
)
c.ConfigurableHTTPProxy.command = [
    str(CHECKOUT / "node_modules" / ".bin" / "configurable-http-proxy")
]
c.ConfigurableHTTPProxy.auth_token = home.secret("proxy_auth_token", HOME).hex()
c.ConfigurableHTTPProxy.pid_file = str(HOME / "proxy.pid")

# No site may frame the hub's pages (login, token, admin) — as the consoles (hub.web.headers).
c.JupyterHub.tornado_settings = {"headers": dict(NO_FRAMING)}

# --- state under $SHUYU_HOME ----------------------------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{HOME / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HOME / "secrets" / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(HOME / "jupyterhub.pid")
c.JupyterHub.cookie_max_age_days = 0.5
c.JupyterHub.template_vars = {
    "announcement_login": "数域 Shuyu · 原始数据不出域，数据可用不可见 / raw data never leaves the domain",
    # Agreement reminders 90, 30 and 7 days before expiry, for the company's staff and for admins.
    "announcement": notices.announcement(home.default_db_url(HOME)),
}

# --- login: password + TOTP, lockout, admission ---------------------------------------------------
c.JupyterHub.default_url = landing.default_url  # each role to its own place after signing in
c.JupyterHub.authenticator_class = "shuyu"
c.PlatformAuthenticator.db_url = home.default_db_url(HOME)
c.PlatformAuthenticator.state_dir = str(HOME)  # the audit chain's head is signed there
c.PlatformAuthenticator.lockout_failures = 5
c.PlatformAuthenticator.lockout_minutes = 15
c.PlatformAuthenticator.auth_refresh_age = 60
# Or the unified identity provider (OIDC, authorization code flow with PKCE): set
# $SHUYU_OIDC_ISSUER (its discovery document gives the endpoints and keys). Its subject (`sub`)
# is bound to one staff record: by an administrator, or at the first complete login when
# $SHUYU_OIDC_BIND_FIRST_LOGIN=1 (the username claim finds the record); a different subject for a
# bound record is refused. Admission is the password login's. When the ID token's amr/acr show no
# second factor, the platform asks for its own one-time code before any session exists.
OIDC_ISSUER = os.environ.get("SHUYU_OIDC_ISSUER", "")
if OIDC_ISSUER:
    c.JupyterHub.authenticator_class = "shuyu-oidc"
    c.JupyterHub.template_paths = [str(CHECKOUT / "hub" / "templates")]  # the one-time code page
    c.PlatformOIDCAuthenticator.db_url = home.default_db_url(HOME)
    c.PlatformOIDCAuthenticator.state_dir = str(HOME)
    c.PlatformOIDCAuthenticator.lockout_failures = 5  # wrong one-time codes, as for passwords
    c.PlatformOIDCAuthenticator.lockout_minutes = 15
    c.PlatformOIDCAuthenticator.oidc_issuer = OIDC_ISSUER
    c.PlatformOIDCAuthenticator.client_id = os.environ.get("SHUYU_OIDC_CLIENT_ID", "shuyu")
    c.PlatformOIDCAuthenticator.client_secret = os.environ.get("SHUYU_OIDC_CLIENT_SECRET", "")
    c.PlatformOIDCAuthenticator.oauth_callback_url = os.environ.get(
        "SHUYU_OIDC_CALLBACK_URL", f"{c.JupyterHub.bind_url.rstrip('/')}/hub/oauth_callback"
    )
    c.PlatformOIDCAuthenticator.username_claim = os.environ.get(
        "SHUYU_OIDC_USERNAME_CLAIM", "preferred_username"
    )
    c.PlatformOIDCAuthenticator.bind_subject_on_first_login = (
        os.environ.get("SHUYU_OIDC_BIND_FIRST_LOGIN") == "1"
    )
    # ID token values that count as the provider's own second factor (amr: RFC 8176 names).
    c.PlatformOIDCAuthenticator.mfa_amr_values = ["mfa", "otp", "hwk"]
    c.PlatformOIDCAuthenticator.mfa_acr_values = [
        v for v in os.environ.get("SHUYU_OIDC_MFA_ACR", "").split(",") if v
    ]

# --- RBAC: custom scopes for review, admin and audit; roles loaded onto role groups -------------
c.JupyterHub.custom_scopes = CUSTOM_SCOPES
c.JupyterHub.load_roles = ROLES

# --- the data gateway: the one service workspaces may call besides the hub API ------------------
GATEWAY_PORT = int(os.environ.get("SHUYU_GATEWAY_PORT", "8090"))
REVIEW_PORT = int(os.environ.get("SHUYU_REVIEW_PORT", "8091"))
ADMIN_PORT = int(os.environ.get("SHUYU_ADMIN_PORT", "8092"))
CONSUMER_PORT = int(os.environ.get("SHUYU_CONSUMER_PORT", "8093"))
SPAWNER = os.environ.get("SHUYU_SPAWNER", "tenant-sandbox")
DOCKER_SUBNET_POOL = os.environ.get("SHUYU_DOCKER_SUBNET_POOL", "10.213.0.0/16")
# How tenant networks are addressed, so the gateway refuses a token used from another tenant's.
TENANT_NETWORK = {"tenant-sandbox": "sandbox", "tenant-docker": f"docker:{DOCKER_SUBNET_POOL}"}
# Desensitized samples: at most this many rows and this share of a table, fixed per (tenant,
# scenario, dataset); quasi-identifiers shared by fewer than k sampled rows are suppressed.
SAMPLE_LIMITS = {"max_rows": 10_000, "max_fraction": 0.05, "k": 5}
# Export review: the policy (requests at this classification level or above need two reviewers)
# and the automated checks' thresholds (minimum cell count, dominance (n, k), p-percent, size
# limits, the k under which a raw quasi-identifier combination re-identifies).
REVIEW_RULES = {
    "policy": {"two_person_level": 3},
    "checks": {
        "min_count": 10,
        "dominance_n": 2,
        "dominance_k": 0.9,
        "p_percent": 0.1,
        "max_rows": 1_000_000,
        "max_bytes": 200 << 20,
        "quasi_k": 5,
    },
}
# Production zone: training jobs' limits (a job asks within them), the scenario categories whose
# jobs are approved without a person when every check passes, the membership-inference AUC above
# which a model is not published, import and product-query sizes, and each product key's limits.
PRODUCTION_RULES = {
    "auto_approve": ["public-governance"],
    "max_cpus": 2.0,
    "max_memory_gb": 4.0,
    "max_seconds": 3600,
    "concurrent_jobs": 1,
    "mia_max_auc": 0.6,
    "max_import_bytes": 200 << 20,
    "max_query_records": 1000,
    "model_min_support": 5,  # training rows behind each category of a published model
    "model_max_bytes": 50 << 20,  # a published ONNX model's size (at most 50 MiB)
    "product_calls_per_minute": 60,  # per product key
    "product_records_per_day": 10_000,  # per product key, records or keys, last 24 hours
    "product_sweep_keys_per_day": 2_000,  # keys one product key looks up before a sweep alert
}
# Fees by scenario category (CNY): industry scenarios at the government-guided price, public-
# governance scenarios free under the programme's condition. Units: CPU- and GB-hours of
# workspaces, CPU-hours of training jobs, 10,000 desensitized rows, a published model, a released
# export. `shuyu statement` prices with the same book (it reads the document below from here).
PRICE_BOOK = {
    "currency": "CNY",
    "industry": {
        "container_cpu_hour": 0.5,
        "container_memory_gb_hour": 0.1,
        "job_cpu_hour": 2.0,
        "masked_rows_10k": 1.0,
        "model_publish": 200.0,
        "export": 50.0,
    },
    "public-governance": {
        "container_cpu_hour": 0,
        "container_memory_gb_hour": 0,
        "job_cpu_hour": 0,
        "masked_rows_10k": 0,
        "model_publish": 0,
        "export": 0,
    },
    # The government-guided caps on data products' prices (CNY), by product category and unit:
    # a registration priced above its cap is refused; public-governance products are free.
    "product_caps": {
        "scoring": {"call": 0.5, "10k_records": 800.0, "month": 20_000.0},
        "verification": {"call": 0.2, "10k_records": 300.0, "month": 8_000.0},
    },
    "conditions": {
        "public-governance": "公共治理场景在批准用途内免费 / free within the approved public-governance use"
    },
}
# Privacy computing (Z4): the platform's node listens here for party nodes (the address goes into
# every party's bundle); its processes may run in a network namespace of their own (nftables there
# allowing only the node's port); the SPU environment's Python runs them (empty: .venv-spu, or
# $SHUYU_SPU_PYTHON). A reviewer-approved computation waits this long for the party's approval.
PRIVACY = {
    "privacy_listen": os.environ.get("SHUYU_PRIVACY_LISTEN", "127.0.0.1:9470"),
    "privacy_netns": os.environ.get("SHUYU_PRIVACY_NETNS", ""),
    "privacy_python": os.environ.get("SHUYU_PRIVACY_PYTHON", ""),
    "privacy_wait_approval": 600,
    "max_features": 50,
}
# Retention: audit events and access logs stay in the database at least six months (the national
# rules' floor; a value under 183 days stops the hub here); older ones may be archived with their
# chain hashes (`shuyu audit archive`).
RETENTION = {"audit_days": int(os.environ.get("SHUYU_AUDIT_RETENTION_DAYS", 3 * 365))}
# The rule sets above, validated once (an unknown key or a bad value stops the hub here, with
# its name) and handed to every service that uses them as one document (hub.settings.load()).
try:
    SETTINGS = settings.build(
        sample_limits=SAMPLE_LIMITS,
        review_rules=REVIEW_RULES,
        production_rules=PRODUCTION_RULES,
        price_book=PRICE_BOOK,
        privacy=PRIVACY,
        retention=RETENTION,
    )
except settings.SettingsError as e:
    sys.exit(f"jupyterhub_config.py: {e}")
SETTINGS_ENV = {settings.ENV: settings.document(SETTINGS)}

# --- the domain store: raw datasets, frozen requests, job outputs, models -------------------------
# A local folder under $SHUYU_HOME (domain/), the embedded default; or an S3-compatible store:
#   SHUYU_DOMAIN_URL=s3://bucket/prefix   the store (the bucket must exist)
#   SHUYU_S3_ENDPOINT=http(s)://host:port the S3 API (SeaweedFS, MinIO, Ceph RGW, AWS)
#   SHUYU_S3_ACCESS_KEY / SHUYU_S3_SECRET_KEY  the platform's identity: read, write, list, and
#       the store's IAM API, through which each production job gets an identity of its own (read
#       its approved inputs, write its output prefix), removed when the job ends
#   SHUYU_S3_REGION (default us-east-1)
# Handed to the domain's services only; workspaces (Spawner.environment) never get any of it.
try:
    home.domain_store(HOME)  # checks the configuration
except StoreError as e:
    sys.exit(f"jupyterhub_config.py: {e}")
DOMAIN_ENV = home.domain_env()
# How long the hub waits for a console to answer at start (JupyterHub's default, 30 s, stops the
# hub when the consoles' imports are slow on a busy host).
SERVICE_START_TIMEOUT = 120
c.JupyterHub.services = [
    {
        # No "url": the public proxy has no route to the gateway. Workspaces call it on their
        # tenant link (forwarded to loopback, where it listens), the platform on loopback; a
        # token copied out of a workspace reaches nothing from a laptop.
        "name": "gateway",
        "command": [sys.executable, "-m", "hub.web.gateway"],
        "environment": {
            "SHUYU_HOME": str(HOME),
            "SHUYU_GATEWAY_BIND": "127.0.0.1",
            "SHUYU_DB_URL": home.default_db_url(HOME),
            "SHUYU_GATEWAY_PORT": str(GATEWAY_PORT),
            "SHUYU_TENANT_NETWORK": TENANT_NETWORK.get(SPAWNER, ""),
            **SETTINGS_ENV,
            **DOMAIN_ENV,
        },
        "display": False,
    },
    {
        # The consumer API on the public port (/services/products/): outside consumers call
        # published products with a product key alone. A URL and no OAuth: no hub account.
        "name": "products",
        "url": f"http://127.0.0.1:{CONSUMER_PORT}",
        "command": [sys.executable, "-m", "hub.web.consumer_api"],
        "environment": {
            "SHUYU_HOME": str(HOME),
            "SHUYU_DB_URL": home.default_db_url(HOME),
            "SHUYU_CONSUMER_PORT": str(CONSUMER_PORT),
            **SETTINGS_ENV,
            **DOMAIN_ENV,
        },
        "display": False,
    },
    {
        # Stops at once the servers of anyone admission now refuses (suspension, revocation,
        # termination, expiry, a disabled account, lapsed training). No URL.
        "name": "enforcer",
        "command": [sys.executable, "-m", "hub.web.enforcer"],
        "environment": {
            "SHUYU_HOME": str(HOME),
            "SHUYU_DB_URL": home.default_db_url(HOME),
            "SHUYU_ENFORCE_SECONDS": "1",
        },
        "display": False,
    },
    {
        # The production zone: runs approved jobs, publishes approved models, catalogs imports.
        # No URL: nothing calls into it.
        "name": "production",
        "command": [sys.executable, "-m", "hub.web.production"],
        "environment": {
            "SHUYU_HOME": str(HOME),
            "SHUYU_DB_URL": home.default_db_url(HOME),
            **SETTINGS_ENV,
            **DOMAIN_ENV,
        },
        "display": False,
    },
    {
        # The review console: reviewers sign in through the hub; only the review scope gets in.
        "name": "review",
        "url": f"http://127.0.0.1:{REVIEW_PORT}",
        "command": [sys.executable, "-m", "hub.web.review_console"],
        "environment": {
            "SHUYU_HOME": str(HOME),
            "SHUYU_DB_URL": home.default_db_url(HOME),
            "SHUYU_REVIEW_PORT": str(REVIEW_PORT),
            **DOMAIN_ENV,
        },
        "oauth_client_allowed_scopes": ["custom:shuyu:review"],
        "oauth_no_confirm": True,
        "display": True,
        "timeout": SERVICE_START_TIMEOUT,
    },
    {
        # Administration and supervision: admins change, auditors read, departments decide
        # their own datasets' data-list items; nobody else gets in.
        "name": "admin",
        "url": f"http://127.0.0.1:{ADMIN_PORT}",
        "command": [sys.executable, "-m", "hub.web.admin_console"],
        "environment": {
            "SHUYU_HOME": str(HOME),
            "SHUYU_DB_URL": home.default_db_url(HOME),
            "SHUYU_ADMIN_PORT": str(ADMIN_PORT),
            **SETTINGS_ENV,
            **DOMAIN_ENV,
        },
        "oauth_client_allowed_scopes": [
            "custom:shuyu:admin",
            "custom:shuyu:audit",
            "custom:shuyu:provide",
        ],
        "oauth_no_confirm": True,
        "display": True,
        "timeout": SERVICE_START_TIMEOUT,
    },
]

# --- spawner: every server in its tenant's sandbox ------------------------------------------------
c.JupyterHub.spawner_class = SPAWNER
c.Spawner.default_url = "/lab"
# The token every kernel holds ($JUPYTERHUB_API_TOKEN, which the SDK sends to the gateway) may
# report activity and identify its owner, but not use the staff member's server: copied out of a
# kernel, it cannot drive kernels or read files through the public proxy. (JupyterHub's default
# adds access:servers!server.)
c.Spawner.server_token_scopes = ["users:activity!user"]
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
c.Spawner.mem_limit = "2G"
c.Spawner.cpu_limit = 1.0
# Each server signs its execution and file-save records with a key of its own (see
# hub/execution_keys.py); the gateway refuses records without it, so kernel code cannot forge them.
c.Spawner.environment = {
    execution_keys.ENV: lambda spawner: execution_keys.server_key(
        home.secret(execution_keys.MASTER, HOME), spawner.user.name, spawner.name or ""
    )
}

if SPAWNER == "tenant-sandbox":
    from spawner.netns import ensure_host_guard
    from spawner.sandbox import cleanup_stale, prestart_zygote

    # Workspaces reach the hub API and the gateway on their tenant link's host address; the
    # link's table admits only those two ports and forwards them to loopback, where both listen.
    c.TenantSandboxSpawner.tenant_lookup = tenancy.lookup(home.default_db_url(HOME))
    c.TenantSandboxSpawner.workspaces_root = str(HOME / "workspaces")
    c.TenantSandboxSpawner.runtime_root = str(HOME / "run")
    c.TenantSandboxSpawner.gateway_port = GATEWAY_PORT
    c.TenantSandboxSpawner.hub_port = HUB_PORT
    c.TenantSandboxSpawner.pids_limit = 256
    # Homes (one per staff member) and shared folders (one per tenant) are file systems of their
    # own, allocated in full, so no workspace can fill the disk holding the DB and audit trail.
    c.TenantSandboxSpawner.volumes_root = str(HOME / "volumes")
    c.TenantSandboxSpawner.home_quota = int(os.environ.get("SHUYU_HOME_QUOTA_MB", "1024")) << 20
    c.TenantSandboxSpawner.shared_quota = int(os.environ.get("SHUYU_SHARED_QUOTA_MB", "2048")) << 20
    # The private /tmp is memory: bounded on its own (ENOSPC past it).
    c.TenantSandboxSpawner.tmp_quota = int(os.environ.get("SHUYU_TMP_QUOTA_MB", "256")) << 20
    if HUB_PROCESS:
        cleanup_stale()
        ensure_host_guard((HUB_PORT, GATEWAY_PORT))
        prestart_zygote()
elif SPAWNER == "tenant-docker":
    from spawner.docker_factory import server_setup, workspace_factory
    from spawner.netns import ensure_host_guard

    if HUB_PROCESS:
        ensure_host_guard((HUB_PORT, GATEWAY_PORT))

    # One container per server on its tenant's internal Docker network; each tenant's subnet is
    # cut from the pool by tenant id, so the workspace reaches the hub API and the gateway on its
    # network's gateway address (the host), which the bridge's nftables table alone admits. The
    # Docker engine is the one DOCKER_HOST names (docker-py reads it), else the local socket.
    c.TenantDockerSpawner.image = os.environ.get("SHUYU_DOCKER_IMAGE", "shuyu/workspace:latest")
    c.TenantDockerSpawner.pull_policy = "never"  # built locally (kernels/Dockerfile), never pulled
    c.TenantDockerSpawner.subnet_pool = DOCKER_SUBNET_POOL
    c.TenantDockerSpawner.pids_limit = 256
    # The same quota-bounded homes and shared folders as the sandbox's: mounted on the host (the
    # hub's), bound into the container.
    c.TenantDockerSpawner.volumes_root = str(HOME / "volumes")
    c.TenantDockerSpawner.home_quota = int(os.environ.get("SHUYU_HOME_QUOTA_MB", "1024")) << 20
    c.TenantDockerSpawner.shared_quota = int(os.environ.get("SHUYU_SHARED_QUOTA_MB", "2048")) << 20
    c.TenantDockerSpawner.tmp_quota = int(os.environ.get("SHUYU_TMP_QUOTA_MB", "256")) << 20
    # SHUYU_DOCKER_OWN_PYTHON=1 for the production image (kernels/Dockerfile), which brings its own
    # Python; else the host's Python is mounted read-only (the offline test image has none).
    server_cmd, system_paths, server_env = server_setup(
        os.environ.get("SHUYU_DOCKER_OWN_PYTHON") == "1"
    )
    c.TenantDockerSpawner.cmd = server_cmd
    c.TenantDockerSpawner.workspace_factory = workspace_factory(
        tenant_lookup=tenancy.lookup(home.default_db_url(HOME)),
        workspaces_root=str(HOME / "workspaces"),
        hub_port=HUB_PORT,
        gateway_port=GATEWAY_PORT,
        system_paths=system_paths,
        env=server_env,
    )
else:  # JupyterHub's stock spawner, for comparison benchmarks only
    c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
    c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
    c.SimpleLocalProcessSpawner.home_dir_template = str(HOME / "workspaces" / "{username}")
