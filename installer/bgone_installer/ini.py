"""kritarc (a Qt INI file): edit the text, never rewrite what we do not own."""

from __future__ import annotations

import re


def _newline(text: str, default: str) -> str:
    m = re.search(r"\r\n|\n", text)
    return m.group(0) if m else default


def _section_span(lines: list[str], section: str) -> tuple[int, int] | None:
    """(index of the header line, index after the section's last line) or None."""
    start = None
    for i, line in enumerate(lines):
        s = line.strip()
        if start is None:
            if s == f"[{section}]":
                start = i
        elif s.startswith("[") and s.endswith("]"):
            return start, i
    return (start, len(lines)) if start is not None else None


def _is_key(line: str, key: str) -> bool:
    s = line.strip()
    return s.startswith(key) and s[len(key):].lstrip().startswith("=")


def ini_set(text: str, section: str, key: str, value: str, default_nl: str = "\n") -> tuple[str, dict]:
    """``text`` with ``key=value`` in ``[section]``; the info says how to take it out again."""
    nl = _newline(text, default_nl)
    lines = text.splitlines(keepends=True)
    info: dict = {"previous": None, "section_added": False, "sep": "", "eol_added": False}
    span = _section_span(lines, section)
    entry = f"{key}={value}"
    if span is None:
        if not text:
            sep = ""
        elif not text.endswith(("\n", "\r")):
            sep = nl + nl
        elif text.endswith(nl + nl) or text.strip() == "":
            sep = ""
        else:
            sep = nl
        info.update(section_added=True, sep=sep)
        return text + sep + f"[{section}]" + nl + entry + nl, info
    start, end = span
    for i in range(start + 1, end):
        if _is_key(lines[i], key):
            info["previous"] = lines[i].rstrip("\r\n")
            ending = lines[i][len(lines[i].rstrip("\r\n")):]
            lines[i] = entry + ending
            return "".join(lines), info
    last = start
    for i in range(start + 1, end):
        if lines[i].strip():
            last = i
    if not lines[last].endswith(("\n", "\r")):
        lines[last] += nl
        info["eol_added"] = True
    lines.insert(last + 1, entry + nl)
    return "".join(lines), info


def ini_unset(text: str, section: str, key: str, info: dict) -> str:
    """Undo :func:`ini_set`: restore the previous line, or remove ours (and the section, when
    we added it and nothing else has been put in it since)."""
    lines = text.splitlines(keepends=True)
    span = _section_span(lines, section)
    if span is None:
        return text
    start, end = span
    idx = [i for i in range(start + 1, end) if _is_key(lines[i], key)]
    if not idx:
        return text
    previous = info.get("previous")
    if previous is not None:
        i = idx[0]
        lines[i] = previous + lines[i][len(lines[i].rstrip("\r\n")):]
        return "".join(lines)
    for i in reversed(idx):
        del lines[i]
    end -= len(idx)
    if info.get("section_added") and not any(lines[i].strip() for i in range(start + 1, end)):
        del lines[start:end]
        before = "".join(lines[:start])
        after = "".join(lines[start:])
        sep = info.get("sep", "")
        if sep and before.endswith(sep):
            before = before[: len(before) - len(sep)]
        return before + after
    out = "".join(lines)
    if info.get("eol_added"):
        for nl in ("\r\n", "\n"):
            if out.endswith(nl):
                return out[: -len(nl)]
    return out





def ini_drop_section(text: str, section: str) -> str:
    """``text`` without ``[section]`` and its lines (the plug-in's own saved choices)."""
    lines = text.splitlines(keepends=True)
    span = _section_span(lines, section)
    if span is None:
        return text
    start, end = span
    while start > 0 and not lines[start - 1].strip() and (end == len(lines)):
        start -= 1  # a blank line that only separated our trailing section
    return "".join(lines[:start] + lines[end:])
