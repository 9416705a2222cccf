"""What a column's header says it holds: the headers departments' exports really use.

Exports from government systems name columns in Chinese (姓名, 证件号码, 联系电话, 银行账号, 车牌号,
电子邮箱, 住址, 备注 …) or in pinyin initials and English (xm, sfzh, lxdh, phone, remark). A header
is evidence where values are not (a plate column in spellings no detector knows, names with rare
characters); :func:`header_kind` reads it. Order matters: the more specific kind is tried first
(持卡人身份证号码 is an ID, 联系人电话 a mobile, 联系地址 an address).
"""

from __future__ import annotations

import re

from hub.masking.normal import fold

# (kind, Chinese fragments, English/pinyin tokens), most specific first.
_HINTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "uscc",
        ("统一社会信用代码", "社会信用代码", "信用代码", "纳税人识别号", "税号", "组织机构代码"),
        ("uscc", "creditcode", "taxid", "taxno", "tyshxydm"),
    ),
    (
        "resident_id",
        ("身份证", "证件号", "身份号码", "公民身份", "身份证号", "证件编号", "证照号码"),
        (
            "idcard",
            "idno",
            "idnumber",
            "residentid",
            "sfz",
            "sfzh",
            "sfzhm",
            "zjhm",
            "certno",
            "identity",
            "citizenid",
            "nationalid",
        ),
    ),  # fmt: skip
    (
        "bank_card",
        ("银行卡", "银行账", "银行帐", "卡号", "账号", "帐号", "账户号", "帐户号", "开户账"),
        (
            "bankcard",
            "cardno",
            "cardnumber",
            "account",
            "accountno",
            "acct",
            "iban",
            "yhkh",
            "yhzh",
        ),
    ),  # fmt: skip
    (
        "plate",
        ("车牌", "号牌", "牌照", "车号", "车辆号码"),
        ("plate", "plateno", "licenseplate", "vehicleno", "carno", "cph", "hphm"),
    ),
    (
        "landline",
        ("固定电话", "座机", "固话", "办公电话", "单位电话", "家庭电话", "住宅电话", "传真"),
        ("landline", "fixedline", "officephone", "homephone", "fax", "gddh"),
    ),
    (
        "mobile",
        ("手机", "电话", "联系方式", "联系号码", "移动号码", "手机号"),
        ("mobile", "phone", "tel", "telephone", "cellphone", "cell", "sjh", "lxdh", "dh"),
    ),
    ("email", ("邮箱", "电子邮件", "邮件", "电子信箱"), ("email", "mail", "yx", "dzyx")),
    (
        "address",
        ("住址", "地址", "住所", "居住地", "户籍地", "所在地", "通讯地", "家庭住", "现住"),
        ("address", "addr", "zz", "dz", "jtzz", "hjdz"),
    ),
    (
        "name",
        (
            "姓名",
            "名字",
            "联系人",
            "法定代表人",
            "法人代表",
            "户主",
            "患者",
            "持卡人",
            "申请人",
            "负责人",
            "经办人",
            "驾驶员",
            "驾驶人",
            "司机",
            "收件人",
            "当事人",
            "被保险人",
            "投保人",
            "监护人",
            "配偶",
            "嫌疑人",
            "参保人",
            "户名",
        ),
        (
            "name",
            "fullname",
            "xm",
            "xingming",
            "contact",
            "holder",
            "patient",
            "applicant",
            "driver",
            "owner",
        ),
    ),  # fmt: skip
    (
        "free_text",
        (
            "备注",
            "说明",
            "描述",
            "情况",
            "摘要",
            "内容",
            "记录",
            "意见",
            "详情",
            "事由",
            "原因",
            "病历",
            "主诉",
            "诉求",
            "留言",
            "评论",
            "反映",
            "经过",
            "案情",
            "附言",
        ),
        (
            "remark",
            "remarks",
            "note",
            "notes",
            "memo",
            "comment",
            "comments",
            "desc",
            "description",
            "detail",
            "details",
            "text",
            "content",
            "summary",
            "reason",
            "bz",
        ),
    ),  # fmt: skip
)
# English tokens that make "name" or "no" mean something other than a person's (company_name).
_NOT_PERSON = {
    "company", "enterprise", "org", "organization", "dept", "department", "product", "file",
    "station", "city", "district", "street", "road", "bank", "hospital", "school", "unit",
    "item", "drug", "disease", "diagnosis", "scenario", "dataset", "column", "table", "brand",
}  # fmt: skip
_NOT_PERSON_ZH = ("企业", "单位", "机构", "公司", "医院", "学校", "银行名", "站", "部门", "名称")


def _tokens(header: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", header)  # camelCase
    return [t for t in re.split(r"[^0-9a-z]+", spaced.lower()) if t]


def header_kind(header: str) -> str | None:
    """The kind (``resident_id``, ``mobile`` … ``free_text``) a column's header names, or None."""
    text = fold(str(header or "")).strip()
    tokens = _tokens(text)
    joined = "".join(tokens)
    for kind, chinese, english in _HINTS:
        if kind == "name" and (any(w in text for w in _NOT_PERSON_ZH) or _NOT_PERSON & set(tokens)):
            continue
        if any(w in text for w in chinese):
            return kind
        if any(t in english for t in tokens) or joined in english:
            return kind
    return None
