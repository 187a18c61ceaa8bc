"""Which text encoding an upload is in, decided from its bytes: UTF-8 (BOM or not), UTF-16 (BOM or not), Windows-1252,
Latin-1, or UTF-8 and single-byte rows mixed in one file. Never fails: every byte sequence decodes as something.

Bytes that are not UTF-8 are read as Windows-1252 (what Excel writes on a Western Windows machine), with its five
undefined bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) read as Latin-1 does, as the WHATWG "windows-1252" decoder does. That is
Latin-1 everywhere except 0x80-0x9F, where Latin-1 has only control characters that no text holds and Windows-1252
has the curly quotes, dashes, the euro sign and the ellipsis people type. A single-byte file is named ``cp1252`` when it
holds one of those bytes and ``latin-1`` when not (both read the same then). Binary content still decodes to control
characters (bytes below 0x20 and the five undefined ones), so the reader's not-text share still refuses it."""

from __future__ import annotations

import codecs
import functools
import re
from pathlib import Path

SAMPLE_BYTES = 64 * 1024
MIXED = "utf-8+latin-1"  # UTF-8 rows and single-byte rows (read as Windows-1252) in one file, pasted together
CP1252 = "cp1252"
_SINGLE_BYTE_ERRORS = "sentiment-utf8-else-cp1252"  # also the handler of cp1252's undefined bytes: never UTF-8 there
_C1_BYTE = re.compile(rb"[\x80-\x9f]")  # Windows-1252 punctuation; control characters only in Latin-1
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
BOMS_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _single_byte(byte: int) -> str:
    """One byte as Windows-1252 reads it, or as Latin-1 where Windows-1252 leaves it undefined."""
    raw = bytes((byte,))
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: bytes the codec cannot decode (not valid UTF-8; undefined in cp1252) are read one
    character per byte, as Windows-1252 (Latin-1 for its five undefined bytes)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(_single_byte(b) for b in error.object[error.start : error.end]), error.end


@functools.cache
def register_codec_handlers() -> None:
    """Register the decode error handler that ``MIXED`` and ``cp1252`` files are read with (idempotent).

    Error handlers are process-wide (``codecs.register_error``), so this is not done at import: ``codec_for`` calls it
    before it names the handler, and ``sentiment.runtime.configure_process`` calls it with the rest of the set-up. A
    library user who only reads files therefore never meets an unknown handler."""
    codecs.register_error(_SINGLE_BYTE_ERRORS, _cp1252_fallback)


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``-be`` when NUL bytes fill one side of the byte pairs and not the other (Latin-script UTF-16
    saved without a byte-order mark); text with stray NULs has them on both sides, binary data too."""
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
    if odd >= 0.3 * pairs and even <= 0.05 * odd:
        return "utf-16-le"
    if even >= 0.3 * pairs and odd <= 0.05 * even:
        return "utf-16-be"
    return None


def detect_encoding(path: Path) -> str:
    """``utf-16`` after a UTF-16 byte-order mark; ``utf-16-le``/``-be`` for UTF-16 without one; ``utf-8-sig`` when the
    whole file decodes as UTF-8 (a BOM is dropped); else ``MIXED`` when some bytes are UTF-8 characters (each row is
    read as UTF-8 where it is valid UTF-8, Windows-1252 where not), ``cp1252`` when none are and some byte is in
    0x80-0x9F, and ``latin-1`` otherwise. Never fails on content
    (only ``OSError`` for a file it cannot open). The UTF-16 test reads the first ``SAMPLE_BYTES`` (64 KiB), the
    UTF-8 test the whole file in 1 MiB blocks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid, utf8_seen, c1_seen, tail = True, False, False, b""
    with path.open("rb") as handle:
        if handle.read(2) in BOMS_UTF16:
            return "utf-16"
        handle.seek(0)
        bomless = _utf16_without_bom(handle.read(SAMPLE_BYTES))
        if bomless is not None:
            return bomless
        handle.seek(0)
        for block in iter(lambda: handle.read(1 << 20), b""):
            if valid:
                try:
                    decoder.decode(block)
                    continue
                except UnicodeDecodeError:
                    valid = False
            utf8_seen = utf8_seen or _UTF8_SEQUENCE.search(tail + block) is not None
            c1_seen = c1_seen or _C1_BYTE.search(block) is not None  # the blocks before were ASCII or UTF-8
            tail = block[-3:]  # a character cut between two blocks
        if valid:
            try:
                decoder.decode(b"", final=True)
                return "utf-8-sig"
            except UnicodeDecodeError:
                pass
    if not utf8_seen:  # the UTF-8 check stopped at the first bad block: look at the blocks it had accepted too
        with path.open("rb") as handle:
            utf8_seen = any(_UTF8_SEQUENCE.search(block) for block in iter(lambda: handle.read(1 << 20), b""))
    if utf8_seen:
        return MIXED
    return CP1252 if c1_seen else "latin-1"


def codec_for(encoding: str) -> tuple[str, str]:
    """Python codec and error handler that read a file of the detected ``encoding`` (registering the handler of
    ``MIXED`` and ``cp1252`` files on first use)."""
    if encoding not in (MIXED, CP1252):
        return encoding, "replace"
    register_codec_handlers()
    return ("utf-8-sig" if encoding == MIXED else CP1252), _SINGLE_BYTE_ERRORS
