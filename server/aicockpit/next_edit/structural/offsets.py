"""String offsets (what documents and spans count) and UTF-8 byte offsets (what trees count)."""

from __future__ import annotations


class Offsets:
    """Both ways between one text's string offsets and its UTF-8 bytes (``source``)."""

    def __init__(self, text: str, source: bytes) -> None:
        self.text = text
        self.source = source
        self._ascii = len(text) == len(source)

    def byte(self, char: int) -> int:
        if self._ascii:
            return char
        return len(self.text[:char].encode("utf-8", "surrogatepass"))

    def char(self, byte: int) -> int:
        if self._ascii:
            return byte
        return len(self.source[:byte].decode("utf-8", "replace"))
