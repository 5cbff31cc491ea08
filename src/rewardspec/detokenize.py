"""Turning generated tokens into text one token at a time, in constant time per token.

Decoding the whole output again after every token costs O(n^2) over a step,
which a long or looping step turns into seconds of CPU. Both decoders here only
look at the newest token, or at a short window of recent ones, and return
the text it adds; joined, those pieces are the text a full decode would give.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence

#: An incomplete character may span a few tokens; past this many the window moves on regardless.
_MAX_PENDING_TOKENS = 16


class ByteDetokenizer:
    """For engines that give each token's bytes (llama.cpp): a UTF-8 decoder with a byte buffer.

    A multi-byte character split over tokens comes out whole once its last
    byte arrives; invalid bytes are dropped, as ``errors="ignore"`` would.
    """

    def __init__(self, token_bytes: Callable[[int], bytes]) -> None:
        self._token_bytes = token_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")

    def push(self, token: int) -> str:
        return self._decoder.decode(self._token_bytes(token))

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


class WindowDetokenizer:
    """For tokenizers that decode sequences (transformers): decode a short window, keep what it adds.

    A token's text can depend on its neighbours (SentencePiece drops the
    leading space of the first token it decodes; byte-level BPE can split a
    character), so each new token is decoded together with the few before
    it, and only the text past theirs is returned: the method of TGI's and
    vLLM's incremental detokenizers.
    """

    def __init__(self, decode: Callable[[Sequence[int]], str]) -> None:
        self._decode = decode
        self._tokens: list[int] = []
        self._prefix = 0  # window start
        self._read = 0  # tokens before this index have been returned as text

    def push(self, token: int) -> str:
        self._tokens.append(token)
        return self._advance(final=False)

    def flush(self) -> str:
        """Text still held back (an incomplete character at the very end)."""
        return self._advance(final=True)

    def _advance(self, final: bool) -> str:
        if self._read == len(self._tokens):
            return ""
        seen = self._decode(self._tokens[self._prefix:self._read])
        text = self._decode(self._tokens[self._prefix:])
        pending = len(self._tokens) - self._read
        if not final and pending < _MAX_PENDING_TOKENS and (text.endswith("\ufffd") or len(text) <= len(seen)):
            return ""  # wait for the rest of the character, or for a token that adds text
        self._prefix, self._read = self._read, len(self._tokens)
        return text[len(seen):]
