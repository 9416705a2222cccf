"""Validators for Chinese identifiers used across the platform.

Each ``check_*`` function returns the normalized value or raises :class:`UserError` with a
bilingual reason. The check-character arithmetic lives in :mod:`sdk.identifiers`, shared with the
SDK's preflight, the demo-data generator and the PII detectors, so it is written once.
"""

from __future__ import annotations

import re
from datetime import date

from hub.i18n import Msg, UserError
from sdk.identifiers import USCC_ALPHABET, resident_id_check_char, uscc_check_char

# --- resident identity card (GB 11643-1999, ISO 7064 MOD 11-2) -----------------------------------
_ID18 = re.compile(r"^[1-9]\d{5}(\d{4})(\d{2})(\d{2})\d{3}[0-9X]$")


def check_resident_id(value: str) -> str:
    """Validate an 18-character resident ID number (region, birth date, checksum)."""
    v = (value or "").strip().upper()
    m = _ID18.match(v)
    if not m:
        raise UserError(
            Msg(
                "身份证号格式不正确（应为 18 位）",
                "resident ID number is malformed (18 characters expected)",
            ),
            "id_number",
        )
    try:
        born = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        born = None
    if born is None or born.year < 1900 or born > date.today():
        raise UserError(
            Msg("身份证号中的出生日期无效", "resident ID number has an invalid birth date"),
            "id_number",
        )
    if resident_id_check_char(v[:17]) != v[17]:
        raise UserError(
            Msg("身份证号校验位错误", "resident ID number checksum is wrong"), "id_number"
        )
    return v


# --- unified social credit code (GB 32100-2015, mod 31) ------------------------------------------
_USCC = re.compile(rf"^[{USCC_ALPHABET}]{{18}}$")


def check_uscc(value: str) -> str:
    """Validate a unified social credit code (统一社会信用代码)."""
    v = (value or "").strip().upper()
    if not _USCC.match(v):
        raise UserError(
            Msg(
                "统一社会信用代码格式不正确（应为 18 位数字或大写字母，不含 I、O、Z、S、V）",
                "unified social credit code is malformed (18 digits or capitals, without I, O, Z, S, V)",
            ),
            "uscc",
        )
    if uscc_check_char(v[:17]) != v[17]:
        raise UserError(
            Msg("统一社会信用代码校验位错误", "unified social credit code checksum is wrong"),
            "uscc",
        )
    return v


# --- mobile numbers ------------------------------------------------------------------------------
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def check_mobile(value: str) -> str:
    """Validate a mainland mobile number; ``+86``, spaces and dashes are accepted and removed."""
    v = re.sub(r"[\s-]", "", value or "")
    if v.startswith("+86"):
        v = v[3:]
    elif v.startswith("0086"):
        v = v[4:]
    if not _MOBILE.match(v):
        raise UserError(
            Msg(
                "手机号码格式不正确（应为 11 位，以 1 开头）",
                "mobile number is malformed (11 digits starting with 1)",
            ),
            "mobile",
        )
    return v


# --- names and free-form labels -------------------------------------------------------------------
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")


def check_username(value: str) -> str:
    """Validate a login name: 2-32 chars, lowercase letters, digits, ``.``, ``_``, ``-``."""
    v = (value or "").strip()
    if not _USERNAME.match(v):
        raise UserError(
            Msg(
                "用户名须为 2–32 位小写字母、数字、点、下划线或连字符，并以字母开头",
                "username must be 2-32 lowercase letters, digits, '.', '_' or '-', starting with a letter",
            ),
            "username",
        )
    return v


def check_text(value: str | None, field: str, zh: str, en: str, max_len: int = 200) -> str:
    """Validate a required single-line text field (names, purposes, reasons)."""
    v = (value or "").strip()
    if not v:
        raise UserError(Msg(f"{zh}不能为空", f"{en} must not be empty"), field)
    if len(v) > max_len or any(ord(c) < 32 for c in v):
        raise UserError(
            Msg(
                f"{zh}过长或含控制字符（最多 {max_len} 字）",
                f"{en} is too long or has control characters (max {max_len})",
            ),
            field,
        )
    return v


def check_real_name(value: str) -> str:
    """Validate a person's real name (Chinese or Latin letters, middle dots, spaces)."""
    v = check_text(value, "real_name", "姓名", "real name", max_len=50)
    if not re.fullmatch(r"[\u4e00-\u9fffA-Za-z·• .'-]+", v):
        raise UserError(
            Msg(
                "姓名只能包含汉字、字母、间隔号或空格",
                "real name may contain only Chinese characters, letters, middle dots or spaces",
            ),
            "real_name",
        )
    return v


def parse_date(value: str, field: str = "date") -> date:
    """Parse a ``YYYY-MM-DD`` date."""
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        raise UserError(
            Msg(
                f"日期格式不正确：{value!r}（应为 YYYY-MM-DD）",
                f"bad date {value!r} (expected YYYY-MM-DD)",
            ),
            field,
        ) from None
