"""Every status and request kind the lifecycle knows has words in both languages of the console."""

from __future__ import annotations

from hub import kinds
from hub.review import lifecycle
from hub.web.console_text import TEXT, words


def test_when_a_status_or_kind_is_shown_then_both_languages_have_words_for_it():
    for lang in ("zh", "en"):
        missing = [s for s in lifecycle.STATUSES if f"status_{s}" not in TEXT[lang]]
        missing += [k for k in kinds.names() if not words(lang).get(f"kind_{k}")]
        assert not missing, (lang, missing)
    assert set(TEXT["zh"]) == set(TEXT["en"])
