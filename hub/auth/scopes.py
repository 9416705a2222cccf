"""Custom RBAC scopes for platform actions and the roles that hold them.

The services (gateway, production, consoles) check these scopes on the tokens they receive; a role is loaded
onto each ``role-<role>`` group that the authenticators assign.
"""

from __future__ import annotations

CUSTOM_SCOPES: dict[str, dict] = {
    "custom:shuyu:review": {
        "description": "Review training, publishing and export requests / 审核请求"
    },
    "custom:shuyu:admin": {
        "description": "Administer tenants, staff, agreements and scenarios / 平台管理"
    },
    "custom:shuyu:audit": {"description": "Read and verify the audit trail / 审计查阅"},
    "custom:shuyu:provide": {
        "description": "Decide data-list items of one's own department / 数据清单审定"
    },
    "custom:shuyu:process": {
        "description": "Use desensitized samples and submit requests / 数据加工"
    },
}

ROLES: list[dict] = [
    {
        "name": "shuyu-processor",
        "description": "Processor staff of a tenant / 加工使用主体人员",
        "scopes": ["self", "custom:shuyu:process"],
        "groups": ["role-processor"],
    },
    {
        "name": "shuyu-reviewer",
        "description": "Platform reviewer / 审核员",
        "scopes": ["self", "custom:shuyu:review", "access:services!service=review"],
        "groups": ["role-reviewer"],
    },
    {
        "name": "shuyu-admin",
        "description": "Platform administrator / 平台管理员",
        "scopes": [
            "self",
            "custom:shuyu:admin",
            "admin-ui",
            "list:users",
            "read:users",
            "admin:servers",
            "access:services!service=admin",
        ],
        "groups": ["role-admin"],
    },
    {
        "name": "shuyu-auditor",
        "description": "Auditor (supervision) / 审计监管",
        "scopes": [
            "self",
            "custom:shuyu:audit",
            "list:users",
            "read:users",
            "access:services!service=admin",
        ],
        "groups": ["role-auditor"],
    },
    {
        "name": "shuyu-enforcer",
        "description": "The enforcer service: lists users, stops the servers of the refused",
        "scopes": ["list:users", "read:users", "read:servers", "servers"],
        "services": ["enforcer"],
    },
    {
        "name": "shuyu-provider",
        "description": "Data-provider department staff / 数据提供部门人员",
        "scopes": ["self", "custom:shuyu:provide", "access:services!service=admin"],
        "groups": ["role-provider"],
    },
]
