import pytest

from bayling_cat import languages
from bayling_cat.errors import UserError


@pytest.mark.parametrize("code,canon,name", [
    ("de", "de", "German"), ("EN", "en", "English"), ("pt_br", "pt-BR", "Portuguese"), ("zh-CN", "zh-CN", "Chinese"),
    ("ZH-HANS", "zh-Hans", "Simplified Chinese"), ("zh-TW", "zh-TW", "Traditional Chinese"), ("fr-CA", "fr-CA", "French"),
])
def test_codes(code, canon, name):
    assert languages.normalize(code) == canon
    assert languages.name(code) == name


@pytest.mark.parametrize("code", ["", "german", "x", "de-", "qq", "12", "en--US", "en-x", "en-US-x-toolongsubtag",
                                  "x-", "de-DE-" + "x" * 90, "en_US_", "de-a", "zz-ZZZZ-99"])
def test_invalid_codes(code):
    with pytest.raises(UserError):
        languages.normalize(code)
