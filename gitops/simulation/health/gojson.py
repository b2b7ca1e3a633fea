"""How Go's encoding/json matches a JSON object's key to a struct field: the exact name, or
one equal under simple Unicode case folding (bytes.EqualFold, so "Status", "STATUS" and
"\u017ftatus" (long s) all fill a field named status)."""

from __future__ import annotations

# Simple case folding beyond ASCII upper/lower, for the letters of the fields read here:
# U+017F (long s) folds with s, U+212A (Kelvin sign) with k.
_FOLDS = {"s": "sS\u017f", "k": "kK\u212a"}


def field_for(key: str, fields: tuple[str, ...]) -> str | None:
    """The field (all lower-case ASCII names) a JSON key fills, or None."""
    if key in fields:
        return key
    for field in fields:
        if len(key) == len(field) and all(
            _fold_equal(k, f) for k, f in zip(key, field, strict=True)
        ):
            return field
    return None


def _fold_equal(char: str, lower: str) -> bool:
    return char in _FOLDS.get(lower, lower + lower.upper())
