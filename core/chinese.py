"""Traditional/Simplified normalisation. Whisper mixes both scripts in Mandarin output; downstream rules
(SOP phrases, PII patterns) are easier to write against one script, chosen per deployment."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

Script = Literal["zh-Hans", "zh-Hant"]
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")  # a Han character (ext. A, basic, compat.)
_OPENCC_CONFIG = {"zh-Hans": "t2s", "zh-Hant": "s2t"}


@lru_cache(maxsize=8)
def _converter(config: str):
    import opencc  # imported lazily: a non-Chinese deployment never loads the dictionaries

    return opencc.OpenCC(config)


def convert_opencc(text: str, config: str) -> str:
    """`text` through the OpenCC conversion `config` ("t2s", "s2t", ...: what a language profile names)."""
    return _converter(config).convert(text)


def to_script(text: str, script: Script) -> str:
    if script not in _OPENCC_CONFIG:
        raise ValueError(f"unknown Chinese script {script!r}; use one of {sorted(_OPENCC_CONFIG)}")
    return convert_opencc(text, _OPENCC_CONFIG[script])
