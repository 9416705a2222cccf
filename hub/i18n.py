"""Bilingual user-facing messages.

Every message a person reads (CLI errors, login denials, page errors) carries Chinese and English
text. Internals (paths, SQL, stack traces) never go into one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Msg:
    """A message in Chinese and English, rendered as ``中文 / English``."""

    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"

    def format(self, **kwargs: object) -> Msg:
        return Msg(self.zh.format(**kwargs), self.en.format(**kwargs))


class UserError(Exception):
    """An error caused by the user's input or situation; its message is safe to show."""

    def __init__(self, msg: Msg, field: str | None = None):
        super().__init__(str(msg))
        self.msg = msg
        self.field = field
