"""The served-cell scrub against the spellings that used to get through: landlines in every
shape exports hold, e-mails spelt to dodge harvesters, and people named in passing with no word
before them. Each case is written the way an attacker (or a careless clerk) would, in spellings
the export corpus does not use; clean text must come back unchanged."""

from __future__ import annotations

import pandas as pd
import pytest

from hub.masking.detectors import detect_column
from hub.masking.normal import compact
from hub.masking.scan import mask, scrub


def _hidden(raw: str, text: str) -> None:
    out = mask(text)
    assert compact(raw) not in compact(out), (text, out)


@pytest.mark.parametrize(
    "raw",
    [
        "0571-88886666", "(010)12345678", "（021）6123 4567", "0755 8888 6666", "010-1234-5678",
        "+86 10 1234 5678", "86-21-61234567", "０５７１－８７６５４３２１", "0512.6789.1234",
        "(0574) 876-5432", "+86 (0)21 6123 4567", "0086-755-86001234", "【0731】84567890",
        "029 8765 4321", "0898-6688 1234", "400-820-8820", "800 810 8888",
        "〇五七一-八八八八六六六六", "0571—88886666", "0571 - 8888 6666",
    ],
)  # fmt: skip
def test_when_a_landline_is_in_any_shape_then_it_is_not_served(raw: str) -> None:
    for text in (raw, f"办公电话{raw}，工作日可拨打", f"请回拨{raw}转8001", f"tel:{raw} ext. 12"):
        _hidden(raw, text)


def test_when_a_landline_has_an_extension_then_the_extension_goes_too() -> None:
    for text in ("0571-88886666转8001", "010-62345678 ext. 12", "021 6123 4567 分机 302"):
        assert not any(c.isdigit() for c in mask(text)), mask(text)


@pytest.mark.parametrize(
    "raw",
    [
        "alice[at]example.com", "alice(at)qq dot com", "alice AT 163 DOT com", "alice＠qq．com",
        "alice#qq.com", "alice @ qq . com", "alice艾特qq点com", "Bob.Li(AT)Sina(DOT)com",
        "zhang_wei {at} 126 [dot] com", "hr-team at corp-example dot com dot cn",
        "wang88【at】foxmail。com", "li.na＃gmail．com", "chen 艾特 163 点 com", "ZHAO@QQ.COM",
        "service<at>zju.edu.cn", "liu.yang (at) hotmail (dot) com",
    ],
)  # fmt: skip
def test_when_an_email_is_spelt_to_dodge_harvesters_then_it_is_not_served(raw: str) -> None:
    for text in (raw, f"邮箱：{raw}，请查收", f"材料请发{raw}。"):
        _hidden(raw, text)
    local = raw.split("[")[0].split("(")[0].split(" ")[0].split("艾")[0].split("#")[0][:5]
    assert local.lower() not in mask(f"请发{raw}").lower(), mask(f"请发{raw}")


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("昨天下午赵丽娟说材料已补齐", "赵丽娟"), ("请与孙浩联系", "孙浩"), ("联系人钱秀兰", "钱秀兰"),
        ("经周建平核实无误", "周建平"), ("办结后告知吴女士", "吴女士"), ("来访的郑先生留下电话", "郑先生"),
        ("已转交冯主任处理", "冯主任"), ("参会：陈晓、褚卫东、卫青", "褚卫东"), ("参会：陈晓、褚卫东、卫青", "陈晓"),
        ("欧阳修竹表示同意", "欧阳修竹"), ("请与上官婉儿联系", "上官婉儿"), ("司马懿说已收到", "司马懿"),
        ("努尔艾力·吐尔逊已到场", "努尔艾力·吐尔逊"), ("据买买提・艾合买提反映", "买买提・艾合买提"),
        ("联系人达瓦.次仁", "达瓦.次仁"), ("佟丽娅表示不同意", "佟丽娅"), ("由栾晓燕陪同", "栾晓燕"),
        ("邬先生来电", "邬先生"), ("杨㛃说明天再来", "杨㛃"), ("何喆、韩犇、曹淼三人参会", "韩犇"),
    ],
)  # fmt: skip
def test_when_someone_else_is_named_in_passing_then_the_name_is_not_served(
    text: str, raw: str
) -> None:
    _hidden(raw, text)


CLEAN = [
    "本月合计金额3,280.50元，较上月增长12.5%。", "办理日期2024-03-15，受理编号DS-2024-0012。",
    "数据集编码 HZ-0571-2024-001 已登记。", "邮编310012，共计12幢住宅楼。", "看一下 at 3pm 的会议纪要。",
    "权利、义务、责任应当明确。", "金华、宁波、温州三地联合发布公告。", "高速、高铁、民航运力充足。",
    "部门经理已审批。", "各位女士、先生：会议改期。", "相关部门表示将尽快答复。", "全体员工表示同意。",
    "请各部门负责人于周五前提交。", "中国·杭州 2024 数字经济大会", "版本号 v1.0.571 发布。",
    "折合人民币010元", "订单号05718888666601", "C#程序设计课程", "评分#1 的方案", "华为表示将扩大投资。",
    "ISBN 978-7-111-54742-6", "会议时间：0900-1130", "温度 0.0571 摄氏度", "季度报告 Q1#2024",
]  # fmt: skip


@pytest.mark.parametrize("text", CLEAN)
def test_when_text_holds_no_personal_data_then_it_is_served_unchanged(text: str) -> None:
    assert mask(text) == text


def test_when_a_column_holds_landlines_then_it_is_detected_and_masked() -> None:
    values = pd.Series(["0571-88886666", "(010)62345678", "0755 8888 6666", "021-61234567"] * 5)
    found = detect_column(values)
    assert found is not None and found.entity == "CN_LANDLINE"
    served = scrub(values)
    assert not any(compact(v) in compact(s) for v, s in zip(values, served, strict=True))
