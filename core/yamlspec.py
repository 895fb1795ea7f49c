"""Reading rule files (evaluation forms, compliance policies) so that every error can name its line.

The YAML is composed to nodes first: `source_lines` maps each data path to its line for pydantic errors,
and `duplicate_key` catches a key given twice (PyYAML silently keeps the last one)."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from core.errors import CallQAError


def source_lines(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map each data path (keys and list indexes) to its 1-based source line; a key maps to the key's line."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out[path + (k.value,)] = k.start_mark.line + 1
            source_lines(v, path + (k.value,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            source_lines(v, path + (i,), out)
    return out


def duplicate_key(node: yaml.Node) -> tuple[str, int] | None:
    """(key, line) of the first key that appears twice in one mapping, anywhere below `node`."""
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for k, _ in node.value:
            if k.value in seen:
                return k.value, k.start_mark.line + 1
            seen.add(k.value)
    children = [v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode) else (
        node.value if isinstance(node, yaml.SequenceNode) else [])
    return next((d for c in children if (d := duplicate_key(c))), None)


def line_of(lines: dict[tuple, int], loc: tuple) -> int:
    """Line of the deepest known prefix of `loc` (pydantic locations may point below what the YAML has)."""
    for n in range(len(loc), -1, -1):
        if tuple(loc[:n]) in lines:
            return lines[tuple(loc[:n])]
    return 1


def did_you_mean(word: object, choices) -> str:
    """"did you mean 'x'? " for the closest of `choices` to `word`, or "" when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'? " if close else ""


def unknown_key_message(where: str, line: int, loc: tuple, valid: list[str], example: str) -> str:
    """The message for a key pydantic rejected as extra: where it is, the closest valid key, an example."""
    dotted = ".".join(map(str, loc))
    return (f"{where}:{line}: unknown key '{loc[-1]}' at {dotted}; {did_you_mean(loc[-1], valid)}"
            f"valid keys: {', '.join(valid)}\n  e.g.\n{example}")


MAX_ALIASES = 25  # rule files need few, if any; a "billion laughs" needs many
MAX_DEPTH = 50  # nesting of mappings and lists


def check_shape(text: str, where: str, error: type[CallQAError]) -> None:
    """Refuse, from the token stream and before anything is built, YAML that could hang or crash a loader:
    more than MAX_ALIASES aliases (an alias bomb expands exponentially) or nesting beyond MAX_DEPTH (the
    composer recurses). Errors name the line."""
    aliases = depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise error(f"{where}:{event.start_mark.line + 1}: more than {MAX_ALIASES} YAML aliases (*name); "
                            "write the values out instead of referencing anchors")
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise error(f"{where}:{event.start_mark.line + 1}: YAML nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def read_mapping(text: str, where: str, error: type[CallQAError], kind: str,
                 example: str) -> tuple[yaml.Node, dict[str, Any]]:
    """The YAML document's node and data; `error` names the line for bad YAML, duplicate keys, an alias
    bomb, too deep nesting, or a document that is not a mapping. `kind` ("form", "policy") and `example` go
    into the messages."""
    try:
        check_shape(text, where, error)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else "?"
        raise error(f"{where}:{line}: not valid YAML: {e.problem or e}\n  e.g.\n{example}") from None
    except yaml.YAMLError as e:
        raise error(f"{where}: not valid YAML: {e}") from None
    if node is not None and (dup := duplicate_key(node)):
        raise error(f"{where}:{dup[1]}: key '{dup[0]}' appears twice in the same mapping; keep one")
    if not isinstance(data, dict):
        raise error(f"{where}:1: a {kind} must be a YAML mapping\n  e.g.\n{example}")
    return node, data


def parse_validated(text: str, where: str, model, error: type[CallQAError], kind: str, example: str, describe,
                    *, title: str | None = None, keep=None):
    """The YAML `text` validated as the pydantic `model`: `error` lists every problem, each as
    `describe(err, lines, where)` gives it (file, line, fix), under "invalid <title or kind>"; `keep(err)`
    may drop noise errors."""
    from pydantic import ValidationError

    node, data = read_mapping(text, where, error, kind, example)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        lines, errs = source_lines(node), [x for x in e.errors() if keep is None or keep(x)]
        problems = "\n".join(describe(err, lines, where) for err in errs)
        raise error(f"invalid {title or kind} ({len(errs)} problem(s)):\n{problems}") from None


def read_text(path: str | Path, error: type[CallQAError], kind: str) -> tuple[str, str]:
    """(text, path as the `where` of messages) of a rule file."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig"), str(path)
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read {kind} ({e.__class__.__name__}: {e})") from None


def load_named_files(folder: str | Path, model, error: type[CallQAError], kind: str, example: str) -> dict:
    """Every `*.yaml` in `folder` validated as the pydantic `model`, keyed by its `id`, which must equal the
    file name (word lists, example sets): `error` names the file and the problems, with `example`."""
    from pydantic import ValidationError

    loaded = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        text, where = read_text(path, error, kind)
        _, data = read_mapping(text, where, error, kind, example)
        try:
            item = model.model_validate(data)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            raise error(f"{where}: invalid {kind} ({problems})\n  e.g.\n{example}") from None
        if item.id != path.stem:
            raise error(f"{where}: id {item.id!r} must equal the file name {path.stem!r}")
        loaded[item.id] = item
    return loaded
