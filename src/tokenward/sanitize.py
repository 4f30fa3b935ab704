"""Text from metadata on its way to a terminal, a mail or a desktop notification.

Purpose, scope, repository, kind and names can come from a teammate's store (Vault
custom_metadata, AWS tags and description), the audit log or a config file: all of it
is input. A newline there would forge a line of everyone's reminder, an escape
sequence would recolour or rewrite the terminal, a bidi override would reorder what
is read. `safe()` is the one function every printer of such text goes through: it
shows each of those characters as a visible escape and leaves the rest alone.
"""

from __future__ import annotations

import unicodedata

# Controls (C0, DEL, C1 such as U+0085 and U+009B), format characters (zero-width
# spaces and joiners, bidi overrides, the BOM), line and paragraph separators,
# surrogates, private use and unassigned code points.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def unsafe_char(text: str) -> str | None:
    """The first character `safe()` would escape, or None."""
    if text.isascii() and text.isprintable():
        return None
    return next((ch for ch in text if unicodedata.category(ch) in UNSAFE_CATEGORIES), None)


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe(text: object) -> str:
    """`text` as a string with every unsafe character shown as an escape (`\\x1b`, `\\n`)."""
    text = "" if text is None else str(text)
    if (text.isascii() and text.isprintable()) or unsafe_char(text) is None:
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in UNSAFE_CATEGORIES else ch for ch in text)
