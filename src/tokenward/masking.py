"""Replace every occurrence of a secret in a byte stream, even split across chunks.

The result is exactly what masking the whole stream at once would give (leftmost
match first, the longest secret at one position first). Only the longest tail that
could still start a secret is held back, so a prompt without a newline still reaches
the user at once.
"""

from __future__ import annotations

import re

MASK = b"****"


class Masker:
    def __init__(self, secrets: list[str | bytes]) -> None:
        encoded = {s.encode("utf-8") if isinstance(s, str) else s for s in secrets}
        # Longest first, so a value that contains or starts another is masked whole.
        self._secrets = sorted((s for s in encoded if s), key=len, reverse=True)
        self._pattern = re.compile(b"|".join(re.escape(s) for s in self._secrets)) if self._secrets else None
        self._pending = b""

    def _held(self, data: bytes, start: int = 0) -> int:
        """Length of the longest suffix of data[start:] that is a proper prefix of a secret."""
        longest = 0
        available = len(data) - start
        for secret in self._secrets:
            for k in range(min(available, len(secret) - 1), longest, -1):
                if data.endswith(secret[:k]):
                    longest = k
                    break
        return longest

    def feed(self, chunk: bytes) -> bytes:
        if self._pattern is None:
            return chunk
        data = self._pending + chunk if self._pending else chunk
        # Positions before `undecided` cannot start a secret that later bytes would complete.
        undecided = len(data) - self._held(data)
        if not any(secret in data for secret in self._secrets):  # the common case, at memchr speed
            self._pending = data[undecided:]
            return data[:undecided]
        out: list[bytes] = []
        pos = 0
        while True:
            match = self._pattern.search(data, pos)
            if match is None or match.start() >= undecided:
                break
            out.append(data[pos : match.start()])
            out.append(MASK)
            pos = match.end()
            if pos > undecided:  # the match ran into the held tail: look again from its end
                undecided = len(data) - self._held(data, pos)
        end = max(pos, undecided)
        out.append(data[pos:end])
        self._pending = data[end:]
        return b"".join(out)

    def flush(self) -> bytes:
        """The held tail at the end of the stream: a secret that was waiting for a longer one is masked now."""
        data, self._pending = self._pending, b""
        if data and self._pattern is not None:
            data = self._pattern.sub(MASK, data)
        return data
