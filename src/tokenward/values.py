"""Reading a secret value: from stdin when it is not a terminal, else a hidden prompt.
Never from argv. One trailing newline is stripped; the rest is checked, not altered."""

from __future__ import annotations

import getpass
import sys
import unicodedata
from typing import BinaryIO

from tokenward.errors import UsageError

MAX_VALUE_BYTES = 64 * 1024  # AWS SecretString's limit, and far beyond any API token
BOM = "\ufeff"
# Unicode categories no token contains: controls, format characters (zero-width
# spaces and joiners, bidi overrides, the BOM), line and paragraph separators, surrogates.
INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def check_value(value: str) -> str:
    if not value.strip():
        raise UsageError("the value is empty")
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        raise UsageError(f"the value is larger than {MAX_VALUE_BYTES // 1024} KiB; a token is expected")
    if any(ch in value for ch in "\x00\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        raise UsageError("the value contains a NUL or line break; a token is one line")
    invisible = next((ch for ch in value if ch != "\t" and unicodedata.category(ch) in INVISIBLE), None)
    if invisible is not None:
        kind = "control" if unicodedata.category(invisible) == "Cc" else "invisible (zero-width or format)"
        raise UsageError(f"the value contains {kind} characters (U+{ord(invisible):04X}); paste the token alone")
    if value != value.strip():
        raise UsageError("the value has leading or trailing spaces; paste the token alone")
    return value


def decode_stdin(data: bytes) -> str:
    if len(data) > MAX_VALUE_BYTES + 2:
        raise UsageError(f"the value on stdin is larger than {MAX_VALUE_BYTES // 1024} KiB; a token is expected")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the value on stdin is not UTF-8 text") from None
    text = text.removeprefix(BOM)  # Windows editors and PowerShell pipes add one
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return check_value(text)


def read_value(prompt: str = "Token value", stream: BinaryIO | None = None, interactive: bool | None = None) -> str:
    """The value from stdin (piped) or a hidden prompt (terminal)."""
    stdin = sys.stdin
    if interactive is None:
        interactive = stream is None and stdin is not None and stdin.isatty()
    if not interactive:
        if stream is None:
            if stdin is None:
                raise UsageError("no value: stdin is closed; pipe the value in or run in a terminal")
            stream = stdin.buffer
        return decode_stdin(stream.read(MAX_VALUE_BYTES + 3))
    try:
        text = getpass.getpass(f"{prompt} (input hidden): ")
    except EOFError:
        raise UsageError("no value was entered") from None
    return check_value(text.removeprefix(BOM))
