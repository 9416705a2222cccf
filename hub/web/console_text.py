"""The consoles' words in Chinese and English; ``?lang=en`` switches (and is remembered)."""

from __future__ import annotations

from functools import cache

from tornado.web import RequestHandler

from hub import kinds

LANGUAGES = ("zh", "en")

TEXT = {
    "zh": {
        "title": "数域 · 审核台", "queue": "审核队列", "all": "全部", "kind": "类型", "scenario": "场景",
        "status": "状态", "filter": "筛选", "name": "名称", "tenant": "单位", "requester": "申请人",
        "level": "分级", "approvals": "批准", "checks": "自动检查", "submitted": "提交时间",
        "empty": "没有符合条件的申请", "purpose": "用途", "content": "内容", "rows": "行",
        "preview": "内容预览（前 20 行）", "verdict": "结论", "reason": "理由", "history": "本单位已发布",
        "decisions": "审核记录", "decide": "审核", "approve": "批准", "reject": "驳回",
        "return": "退回修改", "override": "自动检查未通过，我已核实并强制通过（须写明理由）",
        "reason_hint": "写明审核理由", "recorded": "已记录", "frozen": "该单位资格已暂停、撤销或到期，申请已冻结",
        "reviewer": "审核员", "switch": "English", "back": "返回队列", "error": "无法显示该页面",
        "status_in_review": "审核中", "status_approved": "已批准", "status_rejected": "已驳回",
        "status_returned": "已退回", "status_released": "已发布", "status_withdrawn": "已撤回",
        "status_submitted": "已提交", "status_checking": "检查中", "status_draft": "草稿",
        "verdict_pass": "通过", "verdict_warn": "提示", "verdict_fail": "未通过",
        "decision_approve": "批准", "decision_reject": "驳回", "decision_return": "退回",
        "needs": "需要", "two_person": "两人审批",
        "status_running": "运行中", "status_succeeded": "已完成", "status_failed": "失败",
        "status_published": "已发布为产品", "status_imported": "已导入",
        "job": "训练作业", "job_entrypoint": "入口", "job_datasets": "数据集", "job_params": "参数",
        "job_resources": "资源", "code": "代码（审核对象）", "run": "运行结果（生产区）", "exit_code": "退出码",
        "seconds": "耗时（秒）", "metrics": "指标（小数抑制后）", "log": "日志（个人信息已遮蔽）",
        "model": "模型", "product": "产品", "from_job": "来自作业", "card": "模型卡", "lineage": "血缘",
        "cell": "代码单元", "products": "数据产品", "no_products": "尚无已发布的产品", "keys": "有效密钥",
        "unverified": "申请方声明的来源未经核实，未予关联", "model_contents": "模型摘要（ONNX，审核对象；文件不可下载）",
        "model_inputs": "输入", "model_outputs": "输出", "feature": "特征", "model_category": "类别",
        "class_labels": "类别标签", "operator": "算子", "count": "数量", "key": "键", "value": "值",
        "sweep_alerts": "批量探查告警", "no_alerts": "无告警",
        "calls": "调用次数", "records": "查询记录数", "product_active": "服务中", "product_paused": "已暂停",
        "admin_title": "数域 · 管理与监管台", "tenants": "加工使用主体", "staff": "人员", "audit": "审计日志",
        "signed_in": "当前用户", "role_admin": "管理员", "role_reader": "只读", "term": "协议期限",
        "days_left": "到期剩余天数", "budget": "月度预算", "spent": "本月已用", "statement": "月度账单",
        "tenant_active": "正常", "tenant_suspended": "已暂停", "tenant_revoked": "已撤销",
        "tenant_agreement_expired": "协议已到期", "tenant_agreement_missing": "未签协议",
        "tenant_agreement_terminated": "协议已终止", "tenant_agreement_not_started": "协议未生效",
        "cmd_suspend": "暂停", "cmd_revoke": "撤销", "cmd_reinstate": "恢复", "cmd_renew": "续签协议",
        "cmd_terminate": "提前终止协议", "cmd_budget": "设置预算", "apply": "执行",
        "username": "用户名", "real_name": "姓名", "role": "角色", "verified": "实名", "active": "启用",
        "training_until": "培训有效期至", "admitted": "准入", "score": "成绩", "new_secret": "新的动态口令密钥（仅显示一次）",
        "act_verify": "实名认证", "act_disable": "停用", "act_enable": "启用", "act_reset_totp": "重置动态口令",
        "act_exam": "登记考试成绩", "act_role": "变更角色",
        "filter_tenant": "单位", "filter_actor": "人员", "filter_action": "操作", "filter_since": "起", "filter_until": "止",
        "verify_chain": "校验哈希链", "chain_ok": "哈希链完整", "chain_broken": "哈希链被破坏",
        "with_hashes": "含链式哈希，供监管核验", "time": "时间", "actor": "人员", "action": "操作", "object": "对象",
        "outcome": "结果",
        "datalists": "数据清单审定", "dataset": "数据集", "department": "提供部门", "columns": "字段",
        "decision": "审定", "item_pending": "待审定", "item_approved": "批准", "item_rejected": "驳回",
        "item_revoked": "撤销", "chart_activity": "近 30 天每日活动（审计事件数）",
        "chart_requests": "申请（类型:状态）", "chart_fees": "本月费用（按项目）",
        "onboarding": "主体准入", "onboarding_steps": "信息发布 → 申请提交 → 资格审查 → 专家评审 → 协调小组审定 → 协议签订 → 培训考核",
        "field": "领域", "title_hint": "公告标题", "publish": "发布公告", "closes": "截止",
        "security_officer": "数据安全负责人", "record_application": "登记申请", "missing": "不满足",
        "qualify": "资格审查", "expert": "专家", "add_score": "登记评分", "sign": "签订协议",
        "stage_submitted": "已申请", "stage_qualified": "资格审查通过", "stage_unqualified": "资格审查未通过",
        "stage_approved": "协调小组批准", "stage_rejected": "协调小组驳回", "stage_signed": "已签约",
        "scenarios": "场景", "category": "类别", "file_scenario": "备案场景", "revoke": "撤销",
        "register": "登记人员", "id_number": "身份证号", "mobile": "手机号", "password": "初始密码", "course": "课程",
        "withheld": "暂扣内容（未向申请单位显示）", "release_withheld": "核实无误，向申请单位放行暂扣内容",
        "withheld_released": "暂扣内容已放行",
    },
    "en": {
        "title": "Shuyu · Review console", "queue": "Review queue", "all": "all", "kind": "Kind",
        "scenario": "Scenario", "status": "Status", "filter": "Filter", "name": "Name",
        "tenant": "Company", "requester": "Requester", "level": "Level", "approvals": "Approvals",
        "checks": "Checks", "submitted": "Submitted", "empty": "No matching requests",
        "purpose": "Purpose", "content": "Content", "rows": "rows",
        "preview": "Content preview (first 20 rows)", "verdict": "Verdict", "reason": "Reason",
        "history": "Released by this company", "decisions": "Decisions", "decide": "Decide",
        "approve": "Approve", "reject": "Reject", "return": "Return for changes",
        "override": "Checks failed; I verified and override them (a reason is required)",
        "reason_hint": "Reason for the decision", "recorded": "Recorded",
        "frozen": "The company is suspended, revoked or expired: its requests are frozen",
        "reviewer": "Reviewer", "switch": "中文", "back": "Back to the queue",
        "error": "This page cannot be shown",
        "status_in_review": "in review", "status_approved": "approved", "status_rejected": "rejected",
        "status_returned": "returned", "status_released": "released", "status_withdrawn": "withdrawn",
        "status_submitted": "submitted", "status_checking": "checking", "status_draft": "draft",
        "verdict_pass": "pass", "verdict_warn": "warn", "verdict_fail": "fail",
        "decision_approve": "approve", "decision_reject": "reject", "decision_return": "return",
        "needs": "needs", "two_person": "two-person approval",
        "status_running": "running", "status_succeeded": "succeeded", "status_failed": "failed",
        "status_published": "published as a product", "status_imported": "imported",
        "job": "Training job", "job_entrypoint": "Entrypoint", "job_datasets": "Datasets",
        "job_params": "Parameters", "job_resources": "Resources", "code": "Code (under review)",
        "run": "Run (production zone)", "exit_code": "Exit code", "seconds": "Seconds",
        "metrics": "Metrics (small counts suppressed)", "log": "Log (personal data masked)",
        "model": "Model", "product": "Product", "from_job": "From job", "card": "Model card",
        "lineage": "Lineage", "cell": "cell", "products": "Data products",
        "unverified": "claimed sources not verified, not linked",
        "model_contents": "Model summary (ONNX, under review; the file cannot be downloaded)",
        "model_inputs": "Inputs", "model_outputs": "Outputs", "feature": "Features", "model_category": "Categories",
        "class_labels": "Class labels", "operator": "Operator", "count": "Count", "key": "Key", "value": "Value", "sweep_alerts": "Sweep alerts", "no_alerts": "none",
        "no_products": "No product is published yet", "keys": "Live keys", "calls": "Calls",
        "records": "Records queried", "product_active": "serving", "product_paused": "paused",
        "admin_title": "Shuyu · Administration and supervision", "tenants": "Companies", "staff": "Staff",
        "audit": "Audit trail", "signed_in": "Signed in", "role_admin": "admin", "role_reader": "read-only",
        "term": "Agreement term", "days_left": "Days left", "budget": "Monthly budget", "spent": "Spent this month",
        "statement": "Statement", "tenant_active": "active", "tenant_suspended": "suspended",
        "tenant_agreement_expired": "agreement expired", "tenant_agreement_missing": "no agreement",
        "tenant_agreement_terminated": "agreement terminated",
        "tenant_agreement_not_started": "agreement not yet in force",
        "tenant_revoked": "revoked", "cmd_suspend": "Suspend", "cmd_revoke": "Revoke", "cmd_reinstate": "Reinstate",
        "cmd_renew": "Renew agreement", "cmd_terminate": "Terminate agreement early", "cmd_budget": "Set budget",
        "apply": "Apply", "username": "Username", "real_name": "Name", "role": "Role", "verified": "Verified",
        "active": "Enabled", "training_until": "Training valid until", "admitted": "Admission", "score": "Score",
        "new_secret": "New second-factor secret (shown once)", "act_verify": "Verify real name",
        "act_disable": "Disable", "act_enable": "Enable", "act_reset_totp": "Reset second factor",
        "act_exam": "Record exam result", "act_role": "Change role",
        "filter_tenant": "Company", "filter_actor": "Person", "filter_action": "Action", "filter_since": "From",
        "filter_until": "To", "verify_chain": "Verify the hash chain", "chain_ok": "Hash chain intact",
        "chain_broken": "Hash chain broken", "with_hashes": "with chain hashes, for regulators", "time": "Time",
        "actor": "Person", "action": "Action", "object": "Object", "outcome": "Outcome",
        "datalists": "Data-list decisions", "dataset": "Dataset", "department": "Department",
        "columns": "Columns", "decision": "Decision", "item_pending": "pending", "item_approved": "approved",
        "item_rejected": "rejected", "item_revoked": "revoked",
        "chart_activity": "Activity per day, last 30 days (audit events)",
        "chart_requests": "Requests (kind:status)", "chart_fees": "Fees this month by item",
        "onboarding": "Onboarding", "onboarding_steps": "notice → application → qualification review → "
        "expert review → coordination group → agreement → training", "field": "Field",
        "title_hint": "Notice title", "publish": "Publish notice", "closes": "closes",
        "security_officer": "Data-security officer", "record_application": "Record application",
        "missing": "Not met", "qualify": "Qualification review", "expert": "Expert",
        "add_score": "Record score", "sign": "Sign agreement", "stage_submitted": "applied",
        "stage_qualified": "qualified", "stage_unqualified": "not qualified",
        "stage_approved": "approved by the coordination group",
        "stage_rejected": "rejected by the coordination group", "stage_signed": "signed",
        "scenarios": "Scenarios", "category": "Category", "file_scenario": "File scenario",
        "revoke": "Revoke", "register": "Register staff", "id_number": "ID number", "mobile": "Mobile",
        "password": "Initial password", "course": "Course",
        "withheld": "Withheld (not shown to the company)",
        "release_withheld": "Checked: release the withheld parts to the company",
        "withheld_released": "The withheld parts are released",
    },
}  # fmt: skip


@cache
def words(lang: str) -> dict[str, str]:
    """The consoles' words in ``lang``, with each request kind's title (``kind_<name>``) as
    its module gives it."""
    titles = {f"kind_{name}": getattr(kinds.get(name).title, lang) for name in kinds.names()}
    return {**TEXT[lang], **titles}


def language(handler: RequestHandler) -> str:
    """``?lang=`` if given (and remembered in a cookie), else the cookie, else Chinese."""
    asked = handler.get_query_argument("lang", "")
    if asked in LANGUAGES:
        handler.set_cookie("shuyu_lang", asked, path="/", httponly=True, samesite="Lax")
        return asked
    remembered = handler.get_cookie("shuyu_lang", "")
    return remembered if remembered in LANGUAGES else "zh"
