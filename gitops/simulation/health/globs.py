"""The two glob dialects Argo CD v3.5.1 matches "group/Kind" keys with, as regular expressions:
gobwas/glob v0.2.3 without separators for argocd-cm override keys (util/glob/glob.go Match,
called by util/lua/lua.go getWildcardHealthOverrideLua), and bmatcuk/doublestar v4 for the
built-in wildcard folders (getWildcardBuiltInHealthOverrideLua, where "*" stops at "/")."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=256)
def gobwas(pattern: str) -> re.Pattern[str] | None:
    """A gobwas glob without separators: "*" and "**" match anything ("/" included), "?" one
    character, "[abc]", "[!abc]", "[a-z]" a class, "{a,b}" alternatives, "\\" escapes. None for
    a pattern gobwas rejects (Argo CD's Match then logs and matches nothing)."""
    out, depth, i = [], 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 == len(pattern):
                return None
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append(".*")
            while i + 1 < len(pattern) and pattern[i + 1] == "*":
                i += 1
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                return None
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            if not body:
                return None
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    if depth:
        return None
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return None


def gobwas_match(pattern: str, text: str) -> bool:
    compiled = gobwas(pattern)
    return compiled is not None and compiled.fullmatch(text) is not None


@lru_cache(maxsize=256)
def folder_wildcard(folder: str) -> re.Pattern[str]:
    """A built-in wildcard folder ("_.crossplane.io/_") as doublestar reads it once "_" is
    "*": any run of characters but "/"."""
    return re.compile("[^/]*".join(re.escape(part) for part in folder.split("_")))
