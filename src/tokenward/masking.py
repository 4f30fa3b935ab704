"""Replace every occurrence of a secret in a byte stream, even split across chunks.

Only the longest tail that could still start a secret is held back, so prompts
without a newline still reach the user at once."""

from __future__ import annotations

MASK = b"****"


class Masker:
    def __init__(self, secrets: list[str | bytes]) -> None:
        encoded = {s.encode("utf-8") if isinstance(s, str) else s for s in secrets}
        # Longest first, so a value that contains another is masked whole.
        self._secrets = sorted((s for s in encoded if s), key=len, reverse=True)
        self._pending = b""

    def _held(self, data: bytes) -> int:
        longest = 0
        for secret in self._secrets:
            for k in range(min(len(data), len(secret) - 1), longest, -1):
                if data.endswith(secret[:k]):
                    longest = k
                    break
        return longest

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk
        for secret in self._secrets:
            data = data.replace(secret, MASK)
        hold = self._held(data)
        if hold:
            self._pending = data[-hold:]
            return data[:-hold]
        self._pending = b""
        return data

    def flush(self) -> bytes:
        data, self._pending = self._pending, b""
        return data
