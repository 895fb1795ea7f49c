"""Traditional/Simplified normalisation. Whisper mixes both scripts in Mandarin output; downstream rules
(SOP phrases, PII patterns) are easier to write against one script, chosen per deployment."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

Script = Literal["zh-Hans", "zh-Hant"]
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")  # a Han character (ext. A, basic, compat.)
_OPENCC_CONFIG = {"zh-Hans": "t2s", "zh-Hant": "s2t"}


@lru_cache(maxsize=2)
def _converter(script: Script):
    import opencc  # imported lazily: a non-Chinese deployment never loads the dictionaries

    return opencc.OpenCC(_OPENCC_CONFIG[script])


def to_script(text: str, script: Script) -> str:
    if script not in _OPENCC_CONFIG:
        raise ValueError(f"unknown Chinese script {script!r}; use one of {sorted(_OPENCC_CONFIG)}")
    return _converter(script).convert(text)
