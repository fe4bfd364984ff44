"""AES-CBC as SIA DC-09 uses it: a per-account 128/192/256-bit key, a zero IV, hex on the wire.

The encrypted part of a message starts with random padding and a `|`, so that it fills whole
16-byte blocks; the padding is what makes two identical events encrypt differently.
"""

from __future__ import annotations

import binascii
import functools
import secrets
import string

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from helppoint.domain.sia import parse_key

__all__ = ["DecryptError", "decrypt", "encrypt", "pad", "parse_key", "strip_padding"]

ZERO_IV = bytes(16)
#: Padding characters: printable, and never one of the separators `|`, `[` or `]`.
PAD_ALPHABET = string.ascii_letters + string.digits
#: Maps each random byte to a padding character, so padding costs one call, not one per byte.
_PAD_TABLE = bytes(PAD_ALPHABET.encode("ascii")[n % len(PAD_ALPHABET)] for n in range(256))


class DecryptError(ValueError):
    """The encrypted part is not hex, not whole blocks, or does not decrypt to text."""


def pad(text: str) -> str:
    """`text` behind random padding and `|`, filling whole 16-byte blocks."""
    fill = -(len(text) + 1) % 16
    return secrets.token_bytes(fill).translate(_PAD_TABLE).decode("ascii") + "|" + text


@functools.lru_cache(maxsize=4096)
def _cipher(key: bytes) -> Cipher[modes.CBC]:
    # Set up once per key (an account's key is used for every message and answer).
    return Cipher(algorithms.AES(key), modes.CBC(ZERO_IV))


def encrypt(key: bytes, text: str) -> str:
    """Pad and encrypt ASCII `text`; uppercase hex."""
    data = pad(text).encode("ascii")
    encryptor = _cipher(key).encryptor()
    return (encryptor.update(data) + encryptor.finalize()).hex().upper()


def decrypt(key: bytes, hex_text: str) -> str:
    """Decrypt the hex of whole AES blocks to ASCII text (padding still in front)."""
    try:
        data = binascii.unhexlify(hex_text)
    except (binascii.Error, ValueError):
        raise DecryptError("encrypted data is not hex") from None
    if not data or len(data) % 16:
        raise DecryptError(f"encrypted data is {len(data)} bytes, not whole 16-byte blocks")
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    try:
        text = plain.decode("ascii")
    except UnicodeDecodeError:
        raise DecryptError("decrypted data is not text: wrong key?") from None
    if not text.isprintable():
        raise DecryptError("decrypted data is not printable: wrong key?")
    return text


def strip_padding(text: str) -> str:
    """The decrypted text without its padding (everything up to the first `|`, or the `[`/`]`)."""
    bar = text.find("|")
    if bar != -1 and not any(ch in "[]#" for ch in text[:bar]):
        return text[bar + 1 :]
    # Some senders pad with zeros and no separator: data then starts at '#', 'N' or ']'.
    for index, ch in enumerate(text):
        if ch in "#]":
            return text[index:]
    return text
