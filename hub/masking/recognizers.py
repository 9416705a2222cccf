"""Model-free presidio recognizers for Chinese personal data.

Every recognizer is a :class:`~presidio_analyzer.PatternRecognizer` that needs no NLP model. Each
one also carries ``full``, a regular expression matching a whole cell value (RE2- and
:mod:`re`-compatible, so pandas can run it on Arrow strings), and :meth:`CnRecognizer.valid`,
the checksum or plausibility test run on such a value. Text is folded first
(:func:`hub.masking.normal.fold`: full-width forms, look-alike separators and, for numeric
identifiers, Chinese numerals); it keeps the length, so offsets found in the folded text hold in
the original one. In-text patterns tolerate separators between any two characters of an
identifier (:data:`hub.masking.normal.GAP`); ``full`` matches a whole value in its compact form.

Each recognizer lists ``CONTEXT`` words; Chinese has no word boundaries, so
:class:`hub.masking.detectors.CharContextEnhancer` looks them up in a window of characters.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from hub.masking.normal import GAP, SEP, compact, fold
from hub.validators import USCC_ALPHABET
from sdk.identifiers import (  # noqa: F401 - FULLWIDTH and normalize are used through this module
    FULLWIDTH,
    luhn_valid,
    normalize,
    resident_id_valid,
    uscc_valid,
)

# CJK ideographs: the basic block, extension A (㛃, 䶮 ...), compatibility ideographs and the
# supplementary planes (extensions B and later), written as literal characters so that the class
# means the same in Python's re and in RE2 (pandas on Arrow strings).
_HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
HAN = "[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _HAN_RANGES) + "]"
_EDGE_L, _EDGE_R = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"


class CnRecognizer(PatternRecognizer):
    """Base class: one entity, in-text patterns, a whole-value regex and a value validator."""

    ENTITY = ""
    PATTERNS: tuple[tuple[str, str, float], ...] = ()
    CONTEXT: tuple[str, ...] = ()
    NUMERIC = False  # searched in the view where Chinese numerals are digits
    CANON = "compact"  # whole values are matched compact (see :mod:`hub.masking.normal`)
    full = ""

    def __init__(self) -> None:
        patterns = [Pattern(name, regex, score) for name, regex, score in self.PATTERNS]
        super().__init__(
            supported_entity=self.ENTITY,
            name=type(self).__name__,
            supported_language="zh",
            patterns=patterns,
            context=list(self.CONTEXT) or None,
        )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Run the patterns on the folded text (same length, so offsets are unchanged)."""
        return super().analyze(self.view(text), entities, nlp_artifacts, regex_flags)

    def view(self, text: str) -> str:
        """The folded text this recognizer searches (one character for one of ``text``)."""
        return fold(text, numerals=self.NUMERIC)

    def valid(self, value: str) -> bool:
        """Checksum or plausibility test of a whole, normalized value matching :attr:`full`."""
        return True

    def validate_result(self, pattern_text: str) -> bool | None:
        """Checksum entities: True (score 1.0) or False (dropped); others keep the pattern score."""
        return None

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            self.ENTITY,
            start,
            end,
            score,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


_DATE = "(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"


def _more(n: int | str, char: str = "[0-9]") -> str:
    """``n`` more ``char`` (a count or a ``{a,b}`` range body), each after an optional gap."""
    return f"(?:{GAP}{char}){{{n}}}"


class ResidentIdRecognizer(CnRecognizer):
    """Resident ID numbers: 18 characters with check character, or legacy 15 digits."""

    ENTITY = "CN_RESIDENT_ID"
    # Any grouping (6-8-4, 6-4-4-4, one digit at a time), any separator; the checksum decides.
    PATTERNS = (
        ("id18", rf"{_EDGE_L}[1-9]{_more(16)}{GAP}[0-9Xx]{_EDGE_R}", 0.5),
        ("id15", rf"{_EDGE_L}[1-9]{_more(14)}{_EDGE_R}", 0.5),
    )
    CONTEXT = ("身份证", "身份号码", "证件号", "公民身份", "身份信息")
    NUMERIC = True
    full = f"[1-9][0-9]{{5}}(?:18|19|20)[0-9]{{2}}{_DATE}[0-9]{{3}}[0-9X]|[1-9][0-9]{{7}}{_DATE}[0-9]{{3}}"

    def valid(self, value: str) -> bool:
        v = compact(value)
        return len(v) in (15, 18) and v[:17].isdigit() and resident_id_valid(v)

    def validate_result(self, pattern_text: str) -> bool | None:
        # 15-digit IDs have no checksum: plausible ones keep the pattern score.
        ok = self.valid(pattern_text)
        return None if ok and len(compact(pattern_text)) == 15 else ok


class MobileRecognizer(CnRecognizer):
    """Mainland mobile numbers with optional +86 / 0086 / 86 prefix, spaces or dashes."""

    ENTITY = "CN_MOBILE"
    _PREFIX = rf"(?:(?:(?:\+|00){GAP}86|[(（]{GAP}(?:\+|00)?{GAP}86{GAP}[)）]|86){GAP})?"
    PATTERNS = (("mobile", rf"{_EDGE_L}{_PREFIX}1{GAP}[3-9]{_more(9)}{_EDGE_R}", 0.6),)
    CONTEXT = ("手机", "电话", "联系方式", "致电", "来电", "拨打", "号码", "短信", "微信")
    NUMERIC = True
    full = "(?:\\+?86|0086)?1[3-9][0-9]{9}"

    def invalidate_result(self, pattern_text: str) -> bool | None:
        """Reject runs of one repeated digit such as 13333333333."""
        return len(set(compact(pattern_text)[-8:])) == 1

    def valid(self, value: str) -> bool:
        return not self.invalidate_result(value)


# Area codes: 010 and 02X (three digits, eight-digit local numbers), 0[3-9]XX (four digits, seven
# or eight). Written with the trunk 0, or after +86 / 0086 / 86 without it; in brackets or not.
_AREA = "(?:10|2[0-9]|[3-9][0-9]{2})"
_OPEN, _CLOSE = "[(（\\[【]", "[)）\\]】]"
_COUNTRY = rf"(?:(?:\+|00){GAP}86|[(（]{GAP}(?:\+|00)?{GAP}86{GAP}[)）]|86)"
_TRUNK = rf"(?:{_OPEN}{GAP}0?{GAP}{_CLOSE}|0)?"  # +86 (0)21 ...
_LOCAL = f"[1-9]{_more(6)}(?:{GAP}[0-9])?"  # seven or eight digits, grouped any way
_EXTENSION = rf"(?:{GAP}(?:转|分机|分機|ext|x|extension|内线)[.:：]?{GAP}[0-9]{{1,6}})?"
_LANDLINE = (
    rf"(?:{_COUNTRY}{GAP}{_TRUNK}{GAP}(?:{_OPEN}{GAP}{_AREA}{GAP}{_CLOSE}|{_AREA})"
    rf"|{_OPEN}{GAP}0{_AREA}{GAP}{_CLOSE}|0{_AREA})"
    rf"{SEP}{{0,3}}{_LOCAL}{_EXTENSION}"  # 0571 - 8888 6666: three separators after the area
)
# A local number without its area code counts right after a phone word (电话：8765 4321, 座机
# 6857-6507 转 23, tel: 87654321): one look-behind per word and joint (Python's re needs each of
# fixed width), never on its own (an order number is eight digits too).
PHONE_WORDS = ("电话", "座机", "固话", "传真", "总机", "热线", "分机", "回电", "回拨", "致电", "来电",
                "拨打", "联系方式", "tel", "fax")  # fmt: skip
_JOINTS = ("", ":", "：", " ", ": ", "： ", "是", "是 ", "为", "号码", "号码:", "号码：", "号码是",
           "号码为", ": +", "(", "（")  # fmt: skip
_AFTER_PHONE_WORD = (
    "(?:" + "|".join(f"(?<={re.escape(w + j)})" for w in PHONE_WORDS for j in _JOINTS) + ")"
)
_LOCAL_ONLY = f"[2-9][0-9]{{2,3}}{GAP}[0-9]{{4}}{_EXTENSION}"
# The same two shapes once a value is compacted (:func:`compact`: no separators, upper case).
EXTENSION_COMPACT = "(?:(?:转|分机|分機|内线|EXT|EXTENSION|X)[:：]?[0-9]{1,6})?"
LOCAL_COMPACT = f"[2-9][0-9]{{6,7}}{EXTENSION_COMPACT}"
# National service numbers: 400 / 800 and seven digits (400-820-8820).
_SERVICE = f"[48]00{_more(7)}"


class LandlineRecognizer(CnRecognizer):
    """Fixed-line numbers with an area code (``0571-88886666``, ``(010)12345678``, ``+86 10 1234
    5678``, ``86-21-61234567``), any grouping of the local number, an extension (``转 8001``,
    ``ext. 12``), 400/800 service numbers, and local numbers right after a phone word."""

    ENTITY = "CN_LANDLINE"
    PATTERNS = (
        # not inside a code (HZ-0571-2024-001, v1.0.571): no letter or digit, nor one and a dash
        ("landline", rf"(?<![0-9A-Za-z.+])(?<![0-9A-Za-z][-_/]){_LANDLINE}{_EDGE_R}", 0.6),
        ("service", rf"{_EDGE_L}{_SERVICE}{_EDGE_R}", 0.5),
        ("local", rf"{_AFTER_PHONE_WORD}{_LOCAL_ONLY}{_EDGE_R}", 0.6),
    )
    CONTEXT = ("电话", "座机", "固话", "固定电话", "办公电话", "传真", "总机", "热线", "tel")
    NUMERIC = True
    full = f"(?:(?:\\+?86|0086)0?|0)(?:10|2[0-9]|[3-9][0-9]{{2}})[1-9][0-9]{{6,7}}{EXTENSION_COMPACT}|[48]00[0-9]{{7}}"  # fmt: skip

    def invalidate_result(self, pattern_text: str) -> bool | None:
        """Reject a local number of one repeated digit (0571-00000000 is a placeholder)."""
        digits = [c for c in compact(pattern_text) if c.isdigit()]
        return len(set(digits[-7:])) == 1

    def valid(self, value: str) -> bool:
        return not self.invalidate_result(value)


class BankCardRecognizer(CnRecognizer):
    """Bank card numbers: 16-19 digits passing Luhn, optionally grouped by fours."""

    ENTITY = "CN_BANK_CARD"
    PATTERNS = (("card", rf"{_EDGE_L}[0-9]{_more('15,18')}{_EDGE_R}", 0.5),)
    CONTEXT = ("银行卡", "卡号", "账号", "帐号", "账户", "储蓄卡", "信用卡", "借记卡", "开户")
    NUMERIC = True
    full = "[0-9]{16,19}"

    def valid(self, value: str) -> bool:
        v = compact(value)
        return v.isdigit() and luhn_valid(v)

    def validate_result(self, pattern_text: str) -> bool | None:
        return self.valid(pattern_text)


_USCC_CHAR = "[0-9A-HJ-NP-RTUW-Y]"


class UsccRecognizer(CnRecognizer):
    """Unified social credit codes (统一社会信用代码) with the GB 32100 check character."""

    ENTITY = "CN_USCC"
    PATTERNS = (
        (
            "uscc",
            rf"{_EDGE_L}[1-9ANY]{GAP}[1-9]{_more(6)}{_more(10, _USCC_CHAR)}{_EDGE_R}",
            0.5,
        ),
    )
    CONTEXT = ("信用代码", "纳税人识别号", "税号", "营业执照", "社会信用")
    full = f"[1-9ANY][1-9][0-9]{{6}}{_USCC_CHAR}{{10}}"

    def valid(self, value: str) -> bool:
        v = compact(value)
        return len(v) == 18 and all(c in USCC_ALPHABET for c in v) and uscc_valid(v)

    def validate_result(self, pattern_text: str) -> bool | None:
        return self.valid(pattern_text)


_PROVINCE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_CHAR = "[A-HJ-NP-Z0-9]"
_PLATE_TAIL = f"(?:{_PLATE_CHAR}|[挂学警港澳])"
_PLATE = (
    f"[{_PROVINCE_ABBR}]{GAP}[A-HJ-NP-Z]{GAP}(?:[DF]{GAP}{_PLATE_CHAR}{_more(4)}"
    f"|[0-9]{_more(4)}{GAP}[DF]|{_PLATE_CHAR}{_more(3, _PLATE_CHAR)}{GAP}{_PLATE_TAIL})"
)


class LicensePlateRecognizer(CnRecognizer):
    """Vehicle plates: province, letter and five characters; new-energy plates have six."""

    ENTITY = "CN_LICENSE_PLATE"
    PATTERNS = (("plate", f"{_PLATE}{_EDGE_R}", 0.6),)
    CONTEXT = ("车牌", "号牌", "车辆", "车号", "牌照", "驾驶")
    full = (
        f"[{_PROVINCE_ABBR}][A-HJ-NP-Z](?:[DF]{_PLATE_CHAR}[0-9]{{4}}|[0-9]{{5}}[DF]"
        f"|{_PLATE_CHAR}{{4}}{_PLATE_TAIL})"
    )

    def valid(self, value: str) -> bool:
        return not self.invalidate_result(value)

    def invalidate_result(self, pattern_text: str) -> bool | None:
        """Real plates carry at most three letters after the authority letter."""
        tail = compact(pattern_text)[2:]
        return sum(c.isascii() and c.isalpha() for c in tail) > 3


# Spellings of "@" and "." people use to keep addresses from harvesters: alice[at]qq[dot]com,
# alice(at)qq dot com, alice AT 163 DOT com, alice#qq.com, alice 艾特 qq 点 com. Blanks may
# surround them; a bare word (at, dot) needs blanks on both sides, so "chat.com" stays one label.
_PAD = "[ \t]{0,3}"
_AT_WORDS = "(?:at|艾特|爱特|圈a|小老鼠|圈圈)"
_AT = (
    rf"(?:{_PAD}(?:@|[(\[{{<（【]{_PAD}(?:@|{_AT_WORDS}){_PAD}[)\]}}>）】]|#|艾特|爱特|圈a|小老鼠)"
    rf"{_PAD}|[ \t]{{1,3}}at[ \t]{{1,3}})"
)
_DOT_WORDS = "(?:dot|点|點|句点)"
_DOT = (
    rf"(?:{_PAD}(?:\.|。|[(\[{{<（【]{_PAD}(?:\.|{_DOT_WORDS}){_PAD}[)\]}}>）】]|点|點|句点){_PAD}"
    rf"|[ \t]{{1,3}}dot[ \t]{{1,3}})"
)
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Top-level domains an obfuscated address ends in: the common generic ones and China's, so that
# "look at this dot" is not read as an address.
_TLD = (
    "(?:com|cn|net|org|edu|gov|info|biz|io|me|cc|co|tv|hk|tw|mo|top|vip|xyz|site|club|shop|ltd"
    "|wang|ink|pro|mobi|name|asia|us|uk|jp|de|fr|ca|au|sg|kr|ru)"
)
_OBFUSCATED = (
    rf"[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}{_AT}{_LABEL}(?:{_DOT}{_LABEL})*?{_DOT}{_TLD}"
    rf"(?:{_DOT}(?:cn|hk|tw|uk|jp|au|sg))?"
)


class EmailRecognizer(CnRecognizer):
    """E-mail addresses by regex only (no top-level-domain lookups), and addresses spelt to
    dodge harvesters (``alice[at]qq.com``, ``alice AT 163 DOT com``, ``alice艾特qq点com``)."""

    ENTITY = "EMAIL_ADDRESS"
    _EMAIL = (
        r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    )
    PATTERNS = (
        ("email", rf"(?<![A-Za-z0-9._%+-]){_EMAIL}(?![A-Za-z0-9-])", 0.8),
        ("email_spelt", rf"(?<![A-Za-z0-9._%+-]){_OBFUSCATED}(?![A-Za-z0-9-])", 0.7),
    )
    CONTEXT = ("邮箱", "邮件", "email", "e-mail", "电子信箱")
    CANON = "text"
    # Whole values, squeezed (blanks dropped): the textbook form or one spelt with brackets,
    # # or 艾特 (a bare AT/DOT, its blanks gone, would read data.com as d AT a; text has them).
    full = (
        f"{_EMAIL}|[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}"
        f"(?:[(\\[{{<（【](?:@|[Aa][Tt]|艾特)[)\\]}}>）】]|#|艾特|爱特)"
        f"{_LABEL}(?:(?:\\.|。|点|點|[(\\[{{<（【](?:\\.|[Dd][Oo][Tt]|点)[)\\]}}>）】]){_LABEL})+"
    )


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# --- names ----------------------------------------------------------------------------------------
SURNAMES = (
    "王李张刘陈杨黄吴赵周徐孙马朱胡林郭何高罗郑梁谢宋唐许邓冯韩曹曾彭萧肖蔡潘田董袁于余叶蒋杜"
    "苏魏程吕丁沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎闫薛尹段雷黎史龙陶贺"
    "顾毛郝龚邵万钱严赖覃洪武莫孔汤向常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿"
    "关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻"
    "祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂"
    "门井"
)
# Rarer surnames, trusted only next to a context word or title (not 和, 明, 国 ... words).
RARE_SURNAMES = (
    "佟臧闵苟邬卞姬师仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池麻苑迟邝谈匡鞠惠荆冀郁胥班储栗燕楚鄢劳"
    "谌奚皮粟冼蔺楼闻厉仝郜阚权帅屠豆朴盖练廉禹祖漆卿狄晋扈晁芮阙浦戈伏鹿薄邸雍辜羊乌裘亓修邰赫"
    "杭逯茹慕银亢嵇湛戎勾茅揭尉冶檀昝奉衡尧闭"
    "植封盘宿鲜索宣敬况印战危宾居束衣阴幸富伊巴支计查商边应全初相容呼"
)
# Common surnames that are also function words (于是, 时间, 关于 ...): trusted only in context.
# Surnames that are mostly words (国, 海, 区, 都, 和 ...) are trusted only there too, and are kept
# out of the whole-value pattern (a reversed 上城区 is no name).
_CONTEXT_ONLY = set(
    "于向时关常路车单解尚司连项费管党景卫米农简古吉易齐安国海位区都公满诸信和乐斯哈官丰隆展智普母玉云元南利平强花"
    "来由原明那但干阿"
)
COMPOUND_SURNAMES = _words(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 "
    "独孤 南宫 西门 端木 呼延 澹台 万俟 百里 闻人 赫连 申屠 太史 公冶 濮阳 左丘 第五"
)
# Characters common in given names; a name without context must use only these.
_NAME_CHARS = set(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉飞鑫波斌宇浩凯健俊帆帅旭宁龙小"
    "林欣佳瑞雪琳晨阳婷慧颖倩琴云莉丹建国志文博海亮成峰彬坤岩冬春梅燕玲珍凤晶欢楠洁淑莹芝花荣"
    "香雷畅璐瑜东兵想金杨柳宏伦翔鹤振思嘉子怡梓涵轩萱雨泽睿宸彤诗琪晓雯薇蕾悦心紫馨婉然若安可"
    "依语嫣梦琦钰蓉露瑶璇妍妮菲莎蓓娅家豪德康永祥福禄寿昌盛兴旺达仁义礼智信忠孝廉立正清天一鸣"
    "光耀栋庆卫学树松柏桃荷莲菊竹青山水月星辰霖霜娴贤惠捷聪哲铭程远航舟岚岳崇嵩巍峻瀚澜湘江河"
    "川源泉溪渊沛乐喜吉隆鼎汉唐宋元夏中民生长恒通顺利益泰和新胜武君诚美秋菁晴琳莺彩丰凡方奇宝"
    # rarer characters chosen for names (堃, 昇, 喆 ...): rarely anything else in a text
    "堃昇喆犇淼焱垚鑫赟玥珺琰璟瑾琛璐瑄祎禕翀昊晟曦煜炜烨熠钊锴铠镕骞湉浠沅汐溧澍濛蕊蓁萌苒芊"
    "茜婧姝娉婕嫣媛妤妘婵嬿璇瑷瑗琬琇瑛珏珂玮玳昀昕晔暄暘旻珩珈皓皙睿骁骏驰騫麒麟鹏鸿鹭曌翀"
    "懿翊彧昱琨璞瑭璋珅婉儿蕙芸菡"
)
_PREFIXES = _words(
    "姓名 名字 患者 病人 法定代表人 法人代表 法人 联系人 负责人 申请人 经办人 代理人 委托人 持卡人 "
    "户主 户名 收件人 寄件人 收货人 投保人 被保险人 当事人 原告 被告 证人 家属 监护人 配偶 "
    "收款人 付款人 开户人 借款人 担保人 紧急联系人 告知 联系了 "
    "丈夫 妻子 父亲 母亲 儿子 女儿 员工 职工 客户 用户 业主 租户 学生 医生 "
    "医师 护士 驾驶员 驾驶人 司机 乘客 签字人 嫌疑人 参保人 纳税人 股东 董事 监事 经理 "
    "主任 介绍人 审批人 审核人 填表人 登记人 报案人 举报人 来访人 名叫 叫 人员 同事 朋友 "
    "邻居 老人"
)
_TITLES = _words(
    "先生 女士 小姐 同志 师傅 老师 医生 医师 大夫 护士 教授 律师 经理 总经理 主任 局长 "
    "处长 科长 院长 校长 所长 书记 董事长 总裁 总监 会计 阿姨 同学"
)
_SURNAME_TITLES = (
    "先生", "女士", "小姐", "老师", "师傅", "医生", "经理", "主任", "阿姨", "同志", "律师", "教授",
    "大夫", "护士", "局长", "处长", "科长", "院长", "校长", "所长", "书记", "会计", "警官", "法官",
)  # fmt: skip
_STOP_CHARS = set("于在是的了和与及等因为被把向对从自将已曾也都还又说称诉系男女岁今昨来去到住")
_STOP_WORDS = {t[:2] for t in _TITLES} | set(
    _words(
        "就诊 入院 出院 来院 到院 复诊 主诉 自述 自诉 反映 表示 认为 签字 签名 确认 办理 申请 提交 "
        "缴纳 驾驶 持有 联系 居住 家住 现住 住址 出生 身份 电话 手机 性别 年龄 今年 今天 昨天 今日 "
        "昨日 明天 明日 已经 目前 现在 正在 曾经 因为 由于 一起 一同 以及 负责 担任 作为 名下 本人 "
        "同意 委托 购买 使用 发现 报案 投诉 咨询 前来 陪同 患有 诊断 体检 检查 入职 离职 参加 参保 "
        "缴费 开具 出具 提供 填写 签署 登记 核实 拨打 所在 户籍 需要 要求 进行 通过 没有 不是 准备 "
        "可以 应该 能够 希望 一直 经常 先后 邮箱 车牌 银行"
    )
)
_NON_NAME_END = set("区县市省州路街镇乡村号室楼局院厂店部处站馆队组费税险款额")
# Words that look like surname + given name; NAME_LIKE_WORDS are also frequent real names.
COMMON_WORDS = set(
    _words(
        "高中 高兴 高原 高新 高速 高楼 金华 金色 宁波 安静 文明 文化 文学 文章 文件 文字 黄金 黄山 "
        "黄河 华东 华南 华北 华西 华中 华人 华夏 江南 江北 江河 江东 杨梅 梅花 白天 白色 蓝天 蓝色 "
        "龙井 凌晨 韩国 苏宁 武汉 许可 冷静 石林 方便 方向 方圆 成功 成立 成年 成都 成长 常州 温暖 "
        "温州 程序 周末 周一 周二 周三 周四 周五 周六 周日 周年 周岁 时间 时代 阳光 阳性 古代 古城 "
        "吉林 车辆 车站 路口 路线 路段 单位 卫生 全国 关键 关于 包括 宋体 唐朝 于是 任何 任务 万元 "
        "钱包 江苏 宫颈 房屋 房间 景区 党员 管理 简单 连续 项目 季度 毕业 童年 纪念 柳树 史上 易于 "
        "申请 欧元 陆续 韩语 谢谢 孙子 马上 马路 向前 向东 向西 左右 左边 左侧 甘肃 云南 海南 平安 "
        "平时 平均 齐全 利益 利润 利率 平台 平等 强调 强化 花费 花园 南方 南北 元旦 云端 智能 普通 "
        "普及 官方 展示 丰富 隆重 斯文"
    )
)
NAME_LIKE_WORDS = set(
    _words("高明 高峰 高山 金山 宁静 安宁 安康 文静 文山 华山 华丽 江山 白云 白雪 黎明 严明 康宁")
)
_SURNAME_RE = "(?:" + "|".join(COMPOUND_SURNAMES) + f"|[{SURNAMES}{RARE_SURNAMES}])"
# Words after which a name may start without a context word (感谢张伟, 今天张伟来院).
_LEFT_WORDS = _words(
    "感谢 谢谢 今天 昨天 明天 今日 昨日 由 请 让 叫 给 和 与 同 跟 被 把 "
    "找 问 告诉 通知 委托 陪同 联系 据 派 是 为 及 经 向 对 或 以及 还有 包括 其中 分别是 "
    "分别为 转告 转交 交给 交由 联系了 通知了 询问 走访 约见 "
    "上午 下午 中午 晚上 早上 傍晚 当天 次日 随后 后来 然后 当时"  # 昨天下午张伟说: a subject
)
# Words after which a name is someone's (张伟说, 李娜表示 ...): a name whose given-name characters
# are all name characters counts there without a word before it.
_RIGHT_WORDS = _words(
    "说 称 讲 表示 反映 介绍 告诉 告知 回复 答复 来电 致电 来访 来信 签字 签名 同意 确认 认为 "
    "提出 承诺 陈述 供述 口述 声称 指出 坦言 透露 本人 等人 一家 夫妇 家属 同志 及其 与其 "
    "的电话 的手机 的身份证 的银行卡 的邮箱 的车辆 的住址 的家属 的配偶 的父亲 的母亲 "
    "联系 核实 沟通 见面 对接 协商 商量"
)
# The right words that only a person says (a word or a company does not 表示 or 签字).
_SPEECH = _words(
    "说 称 讲 表示 反映 告诉 告知 回复 答复 声称 指出 坦言 透露 承诺 陈述 供述 口述 签字 签名 同意 "
    "确认 认为"
)
# Words before a polite title that make the surname someone's (来访的王先生, 向李女士).
_POLITE_LEFT = ("的", "向", "对", "位", "将", "问", "等", "经", "请", "给", "和", "与", "及")


def _is_han(c: str) -> bool:
    code = ord(c)  # the ranges of _HAN_RANGES, unrolled: this runs once per character scanned
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3134F
    )


def _name_char(c: str) -> bool:
    """Common in given names, or an ideograph so rare that only a name uses it (㛃, 䶮)."""
    return c in _NAME_CHARS or (_is_han(c) and not "\u4e00" <= c <= "\u9fff")


def _stops_at(text: str, i: int) -> bool:
    """Return whether a given name cannot continue at ``text[i]``."""
    c = text[i]
    return (
        not _is_han(c) or c in _STOP_CHARS or c in _NON_NAME_END or text[i : i + 2] in _STOP_WORDS
    )


def name_valid(value: str, context: bool = False, strong: bool = False) -> bool:
    """Whether a value (surname and given name) may be a name; ``context``: next to 患者, 先生
    ...; ``strong``: right after a word naming a person (配偶杨梅 is a spouse, not a fruit)."""
    words = set() if strong else COMMON_WORDS if context else COMMON_WORDS | NAME_LIKE_WORDS
    return (
        value not in words
        and value[:2] not in words
        and value[-1] not in _NON_NAME_END
        and not value.endswith(_TITLES + _PREFIXES)
    )


# Characters of transliterated names (Uyghur, Kazakh, Tibetan, foreign: 阿卜杜·热合曼,
# 买买提·艾力, 古丽娜尔·吐尔逊): a run of them joined by a middle dot is a name.
_TRANSLIT = set(
    "阿艾爱安昂奥巴拜班邦包保鲍贝本比彼毕碧宾波伯博布卜才查察达代戴丹当道德迪蒂第丁东都杜"
    "敦多朵俄厄恩尔二法凡范方菲斐费芬丰夫弗伏福富盖甘冈刚高戈哥格根古瓜哈海亥汗罕汉杭豪好合"
    "和赫黑亨洪侯胡琥华怀霍基吉加佳嘉贾坚江杰捷金晋居君喀卡凯坎康柯科可克肯孔库夸奎昆拉腊"
    "莱赖兰朗劳乐勒雷蕾黎李里理力历丽利莉连良列林琳玲凌刘留龙娄卢鲁路伦罗洛玛马买迈麦曼芒"
    "毛茂梅美门蒙孟米密敏明摩莫默姆木穆那纳娜乃奈南楠瑙内尼妮年聂宁纽努诺女欧帕派潘庞佩彭"
    "皮普奇齐恰乔切钦琴青丘曲屈却热仁日荣容如茹儒瑞若撒萨塞赛桑瑟森沙莎山杉善尚舍申什施"
    "史士斯松宋苏索塔泰坦汤唐特滕提天廷通图吐托娃瓦万旺威韦维温文翁沃乌吾伍武西希锡夏仙"
    "香肖谢辛欣休修雅亚燕扬杨尧耶叶伊依怡伊因英尤友于玉约悦云扎泽曾詹章哲珍郑芝朱主卓孜"
    "兹宗祖左"
    # fragments of Uyghur, Kazakh, Mongolian and Tibetan names (买买提, 玉素甫, 其其格, 次仁 ...)
    "甫素其措旦珠嘎贡央顿拥玛卓次仁尕姆桑朗布益增琼群培强边普白牙孜迪则乃木克胡森托喀"
    "勒鲁朝宝音图雅敖登斯琴额敦萨呼罕扎西达瓦尼格吉拉旺堆平洛多丹米穆罕默肉不逊合力托"
)
_MINORITY = re.compile("[\u4e00-\u9fff]{1,8}(?: ?[·.] ?[\u4e00-\u9fff]{1,8}){1,3}")


def _minority_names(text: str) -> list[tuple[int, int]]:
    """Spans of dot-joined transliterated names: every part two or more name characters (the
    first part's leading characters may be words before it, which are cut)."""
    spans = []
    for m in _MINORITY.finditer(text):
        parts = re.split(" ?[·.] ?", m.group())
        first, k = parts[0], len(parts[0])
        while k > 0 and first[k - 1] in _TRANSLIT:
            k -= 1
        start, first, rest = m.start() + k, first[k:], parts[1:]
        last = rest[-1]
        cut = 0
        while cut < len(last) and last[cut] in _TRANSLIT:
            cut += 1
        rest[-1] = last[:cut]
        if len(first) >= 2 and all(len(p) >= 2 and set(p) <= _TRANSLIT for p in rest):
            spans.append((start, m.end() - (len(last) - cut)))
    return spans


_LIST = re.compile("[\u3400-\u9fff·]{1,8}(?:、[\u3400-\u9fff·]{1,8})+")


def _overlaps(spans: set[tuple[int, int]], a: int, b: int) -> bool:
    return any(s < b and a < e for s, e in spans)


def _list_name(text: str, a: int, b: int, listed: bool = False) -> tuple[int, int] | None:
    """The name in ``text[a:b]``, an item of a list: the last surname-led run of two to four
    characters whose given name is name characters (for the last item, the first such run)."""
    for start in range(a, b - 1):
        compound = text[start : start + 2] in COMPOUND_SURNAMES
        c = text[start]
        if not (compound or c in SURNAMES or c in RARE_SURNAMES or c in _CONTEXT_ONLY):
            continue
        given = start + (2 if compound else 1)
        end = given
        while end < min(given + 2, b) and _name_char(text[end]):
            end += 1
        value = text[start:end]
        # in a list of names, a name that is also a word (冷静, 高峰) is a name
        if end > given and (end == b or _stops_at(text, end)) and name_valid(value, strong=listed):
            return start, end
    return None


# Words naming a person (配偶, 紧急联系人 ...): a name may follow whatever its surname.
_PERSON_WORD = re.compile("|".join(sorted(_PREFIXES, key=len, reverse=True)))


class NameRecognizer(CnRecognizer):
    """Chinese names by surname dictionary, gated by context words or name-like characters.

    A candidate is a surname and up to two given-name characters, cut before words that follow
    names (就诊, 电话, 先生 ...). It counts when a context word precedes it (患者, 联系人 ...) or a
    title follows it (先生, 经理 ...); without context it must stand between punctuation, use only
    common given-name characters and not be a common word (高峰, 金华 ...).
    """

    ENTITY = "CN_NAME"
    PATTERNS = (("name", f"{_SURNAME_RE}{HAN}{{1,2}}", 0.6),)
    CANON = "text"
    full = f"{_SURNAME_RE}{HAN}{{1,2}}"

    def valid(self, value: str) -> bool:
        return name_valid(value)

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        text, results, i = self.view(text), [], 0
        after_person = {m.end() for m in _PERSON_WORD.finditer(text)}
        while i < len(text):
            compound = text[i : i + 2] in COMPOUND_SURNAMES
            rare = not compound and (text[i] in RARE_SURNAMES or text[i] in _CONTEXT_ONLY)
            surname = 2 if compound else int(rare or text[i] in SURNAMES)
            if (
                surname
                and text[i + surname : i + surname + 1] == " "
                and self._after_prefix(text, i)
            ):
                surname += 1  # 配偶郑 雪: the blank a clerk typed belongs to the name
            end = i + surname
            while surname and end < min(i + surname + 2, len(text)) and not _stops_at(text, end):
                end += 1
            score = self._score(text, i, i + surname, end, rare) if surname else 0.0
            if not score and not compound and i in after_person and _is_han(text[i]):
                end, score = self._any_surname(text, i)
            if score:
                results.append(self._result(i, end, score))
            i = end if score else i + 1
        results += [self._result(a, b, 0.85) for a, b in _minority_names(text)]
        return results + self._listed(text, results)

    def _listed(self, text: str, found: list[RecognizerResult]) -> list[RecognizerResult]:
        """Names in a list (张伟、栾磊、邬霞): an item of a 、-separated list that holds a name, or
        whose items are mostly names, is a name when it is a surname (rare ones included) and
        name characters."""
        spans = {(r.start, r.end) for r in found}
        out = []
        for m in _LIST.finditer(text):
            items, pos = m.group().split("、"), m.start()
            bounds = []
            for k, item in enumerate(items):
                a, b = pos, pos + len(item)
                if k == 0:  # 参会人员张伟: the first item is the list's trailing name
                    a = max(a, b - 4)
                pos = b + 1
                bounds.append((a, b))
            seeded = any(_overlaps(spans, a, b) for a, b in bounds)
            hits = [
                None if _overlaps(spans, a, b) else _list_name(text, a, b, seeded)
                for a, b in bounds
            ]
            named = [h for h in hits if h is not None]
            # a list with a name in it, or of names only (卞飞、卞瑜、昝凯): not 权利、义务、责任
            if seeded or (len(named) >= 2 and 2 * len(named) > len(hits)):
                out += [self._result(a, b, 0.7) for a, b in named]
        return out

    @staticmethod
    def _any_surname(text: str, start: int) -> tuple[int, float]:
        """After a person word, a surname outside our lists (乐, 诸, 玉 ...): the name counts when
        every given-name character, after an optional blank, is a name character."""
        if _stops_at(text, start) and text[start + 1 : start + 2] != " ":
            return start + 1, 0.0  # 乘客在学院路: 在 starts no name (配偶和 堃: 和 does)
        given = start + 1 + (text[start + 1 : start + 2] == " ")
        end = given
        while end < min(given + 2, len(text)) and not _stops_at(text, end):
            end += 1
        chars = text[given:end]
        if not chars or not all(_name_char(c) for c in chars):
            return start + 1, 0.0
        if end < len(text) and _is_han(text[end]) and not _stops_at(text, end):
            return start + 1, 0.0
        return end, 0.85

    @staticmethod
    def _after_prefix(text: str, start: int) -> bool:
        """A context word, the start of the text or punctuation comes right before."""
        near = text[max(0, start - 8) : start].rstrip(" ：:，,（(")
        if start == 0 or not _is_han(text[start - 1]):
            return True
        return near.endswith(_PREFIXES) or near[:-1].endswith(_PREFIXES)

    @staticmethod
    def _score(text: str, start: int, given: int, end: int, rare: bool) -> float:
        """0.85 with a context word or title, 0.6 for a free-standing name, else 0 (no name)."""
        near = text[max(0, start - 8) : start].rstrip(" ：:，,（(")
        before = near[:-1] if near.endswith(("为", "是")) else near  # 法定代表人为张伟
        title = text.startswith(_TITLES, end)
        context = before.endswith(_PREFIXES) or title
        left = start == 0 or not _is_han(text[start - 1]) or near.endswith(_LEFT_WORDS)
        if given == end:  # a bare surname counts only before a polite title: 王先生, 佟女士
            polite = text.startswith(_SURNAME_TITLES, end)
            near_ok = left or before.endswith(_PREFIXES) or near.endswith(_POLITE_LEFT)
            return 0.85 if polite and near_ok else 0.0
        chars = text[given:end]
        wordy = text.startswith(("说明", "说法", "称号", "称为", "讲座", "讲解"), end)  # 普通说明
        speaker = not wordy and text.startswith(_RIGHT_WORDS, end)  # 高峰说: a person
        # 经苏宁核实, 由高峰确认 (a word before and a speaker's word after), ，杨梅表示同意 (a
        # clause that starts with it and goes on speaking): someone, even a name that is also a
        # word or a company
        strong = (
            before.endswith(_PREFIXES)
            or (speaker and near.endswith(_LEFT_WORDS))
            or (speaker and left and text.startswith(_SPEECH, end))
        )
        if (end < len(text) and text[end] in _NON_NAME_END) or not name_valid(
            text[start:end], context or speaker, strong
        ):
            return 0.0  # 文泽路, 钱江路, 白洋站 are places
        if context and any(_name_char(c) for c in chars):
            return 0.85
        named = all(_name_char(c) for c in chars)
        if named and speaker:
            return 0.7  # 昨天下午张伟说, 亓建华表示: a speaker, whatever came before
        right = end == len(text) or _stops_at(text, end)
        if rare:  # 与邬晓燕联系: a rare surname needs a word before and a full given name
            named = named and len(chars) == 2 and near.endswith(_LEFT_WORDS)
        free = left and right and named
        return 0.6 if free else 0.0


# --- addresses ------------------------------------------------------------------------------------
_PROVINCE_LEVEL = ("特别行政区", "自治区", "省", "市")
_ADMIN = (*_PROVINCE_LEVEL, "自治州", "自治县", "自治旗", "地区", "盟", "区", "县", "旗")
_LOCAL = ("街道", "镇", "乡", "社区", "小区", "新村", "村", "花园", "公寓", "大厦")
_ROAD = ("大道", "大街", "路", "街", "巷", "弄", "胡同")
_NUM = "[0-9A-Za-z]{1,6}(?:-[0-9]{1,5})?(?:号楼|号院|号|弄|幢|栋|座|单元|层|楼|室)"


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


def _han_except(chars: str) -> str:
    """A character class of CJK ideographs without ``chars`` (RE2 has no class subtraction)."""
    ranges, low = [], 0x4E00
    for code in sorted(map(ord, set(chars))):
        if low < code:
            ranges.append(f"{chr(low)}-{chr(code - 1)}")
        low = code + 1
    return "[" + "".join(ranges) + f"{chr(low)}-\u9fff]"


# Unit names never hold words that lead into an address (住, 在, 的 ...); administrative ones
# need two characters (not 城市, 地区) and no road inside (市心路 is a road, not a city).
_LEADS = "住在的了是为到往去址"
_UNIT = _han_except(_LEADS)
_ADMIN_UNIT = _han_except(_LEADS + "路街巷弄道号")


def _unit(after: str = "") -> str:
    """One named unit; ``after`` is an optional lookahead (Python only: RE2 has none)."""
    admin = f"{_ADMIN_UNIT}{{2,8}}?(?:{_alternation(_ADMIN)}){after}"
    return f"(?:{admin}|{_UNIT}{{1,8}}?(?:{_alternation(_LOCAL + _ROAD)}){after})"


# In text, a unit is not cut short before a road suffix (北镇街 is a street, not the town 北镇).
_NOT_ROAD = "(?![路街巷弄道])"
_PART_RE = re.compile(
    f"(?P<num>{_NUM})|(?P<aname>{_ADMIN_UNIT}{{2,8}}?)(?P<admin>{_alternation(_ADMIN)}){_NOT_ROAD}"
    f"|(?P<lname>{_UNIT}{{1,8}}?)(?P<local>{_alternation(_LOCAL + _ROAD)}){_NOT_ROAD}"
)
_PROVINCES = _words(
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 "
    "湖南 广东 海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门"
)
_ADDRESS_LEADS = ("位于", "坐落", "户籍", "注册", "经营", "地", "于", "至", "从", "自", "寄", "迁")


def address_valid(value: str) -> bool:
    """Two or more parts, starting with a named unit: a number, or a unit and a road/village.

    ``杭州市西湖区`` (only administrative units) and ``体育场路金城路`` (a crossing) are not
    addresses; ``西湖区文三路`` and ``文三路90号`` are.
    """
    kinds, pos = [], 0
    while pos < len(value):
        m = _PART_RE.match(value, pos)
        if not m:
            return False
        kinds.append("num" if m["num"] else "admin" if m["admin"] else "local")
        pos = m.end()
    has = set(kinds)
    return len(kinds) >= 2 and kinds[0] != "num" and ("num" in has or has == {"admin", "local"})


def _lead_length(match: str) -> int:
    """Length of words before the address that the first part absorbed (家住, 位于 ...)."""
    m = _PART_RE.match(match)
    name = m["aname"] or m["lname"] or ""
    if m["admin"] in _PROVINCE_LEVEL:
        for p in _PROVINCES:
            if name.endswith(p) and len(name) > len(p):
                return len(name) - len(p)
    cut, rest = 0, 2 if m["admin"] else 1  # characters the unit's own name keeps at least
    for word in _ADDRESS_LEADS:
        k = name.rfind(word, 0, len(name) - rest)
        if k >= 0:
            cut = max(cut, k + len(word))
    return cut


_ROOM = re.compile(r"[0-9A-Za-z]{1,5}(?:-[0-9]{1,5})?(?![0-9A-Za-z])")


class AddressRecognizer(CnRecognizer):
    """Addresses: chains of units ending in 省/市/区/县/镇/街道/村/路/街 ... and 号/幢/室 numbers."""

    ENTITY = "CN_ADDRESS"
    PATTERNS = (("address", f"{_unit(_NOT_ROAD)}(?: ?{_unit(_NOT_ROAD)}| ?{_NUM})*", 0.7),)
    CONTEXT = ("住址", "地址", "住所", "家住", "现住", "居住", "户籍", "所在地")
    CANON = "text"
    full = f"(?:{_unit()}|{_NUM})+"
    _text_re = re.compile(PATTERNS[0][1])

    def valid(self, value: str) -> bool:
        return address_valid(value)

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results = []
        for m in self._text_re.finditer(self.view(text)):
            start = m.start() + _lead_length(m.group())
            if address_valid(m.string[start : m.end()].replace(" ", "")):
                end = m.end()
                if m.string[end - 1] in "元幢栋楼座层":  # 3单元502: a room number without 室
                    room = _ROOM.match(m.string, end)
                    end = room.end() if room else end
                results.append(self._result(start, end, self.patterns[0].score))
        return results


RECOGNIZERS: tuple[type[CnRecognizer], ...] = (
    ResidentIdRecognizer,
    UsccRecognizer,
    BankCardRecognizer,
    MobileRecognizer,
    LandlineRecognizer,
    LicensePlateRecognizer,
    EmailRecognizer,
    AddressRecognizer,
    NameRecognizer,
)
"""All recognizers, most specific first: this order breaks ties between equal findings."""
