"""AES-CBC as SIA DC-09 uses it: a per-account 128/192/256-bit key, a zero IV, hex on the wire.

The encrypted part of a message starts with random padding and a `|`, so that it fills whole
16-byte blocks; the padding is what makes two identical events encrypt differently. DC-09
allows any pseudo-random bytes in the padding except `|`, `[` and `]` (control bytes and `#`
included), so the data is found by its structure, never by what the padding looks like.
"""

from __future__ import annotations

import binascii
import functools
import secrets
import string

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from helppoint.domain.sia import parse_key

__all__ = [
    "DecryptError",
    "decrypt",
    "decrypt_data",
    "encrypt",
    "pad",
    "parse_key",
    "strip_padding",
]

#: Our own padding characters: printable, and never one of the separators `|`, `[` or `]`
#: (what we send; what we accept is any byte but those three).
PAD_ALPHABET = string.ascii_letters + string.digits
#: Maps each random byte to a padding character, so padding costs one call, not one per byte.
_PAD_TABLE = bytes(PAD_ALPHABET.encode("ascii")[n % len(PAD_ALPHABET)] for n in range(256))


class DecryptError(ValueError):
    """The encrypted part is not hex, not whole blocks, or its data does not decrypt to text."""


def pad(text: str) -> str:
    """`text` behind random padding and `|`, filling whole 16-byte blocks."""
    fill = -(len(text) + 1) % 16
    return secrets.token_bytes(fill).translate(_PAD_TABLE).decode("ascii") + "|" + text


class _Blocks:
    """AES on single blocks (ECB) for one key, with CBC's chaining done here.

    A CBC context cannot be rewound to the zero IV, so it would have to be set up for every
    message and answer (most of the cost of a short message); the ECB ones are set up once per
    key and hold no state between whole blocks, so one pair serves every caller.
    """

    def __init__(self, key: bytes) -> None:
        cipher = Cipher(algorithms.AES(key), modes.ECB())  # single blocks: CBC is done here
        self.encrypt, self.decrypt = cipher.encryptor().update, cipher.decryptor().update


@functools.lru_cache(maxsize=4096)
def _blocks(key: bytes) -> _Blocks:
    # Set up once per key (an account's key is used for every message and answer).
    return _Blocks(key)


def encrypt(key: bytes, text: str) -> str:
    """Pad and encrypt ASCII `text` (AES-CBC, zero IV); uppercase hex."""
    data = pad(text).encode("ascii")
    encrypt_block = _blocks(key).encrypt
    previous = 0  # the IV
    out = []
    for start in range(0, len(data), 16):
        block = int.from_bytes(data[start : start + 16]) ^ previous
        cipher_block = encrypt_block(block.to_bytes(16))
        previous = int.from_bytes(cipher_block)
        out.append(cipher_block)
    return b"".join(out).hex().upper()


def decrypt(key: bytes, hex_text: str) -> bytes:
    """Decrypt the hex of whole AES blocks (the padding still in front, as bytes)."""
    try:
        data = binascii.unhexlify(hex_text)
    except (binascii.Error, ValueError):
        raise DecryptError("encrypted data is not hex") from None
    if not data or len(data) % 16:
        raise DecryptError(f"encrypted data is {len(data)} bytes, not whole 16-byte blocks")
    # CBC: each decrypted block XOR the cipher block before it (the IV, zero, for the first).
    chained = int.from_bytes(_blocks(key).decrypt(data)) ^ int.from_bytes(data[:-16])
    return chained.to_bytes(len(data))


def strip_padding(plain: bytes) -> str:
    """The data of a decrypted text, found by its structure; DecryptError if it is not text.

    The padding holds any bytes but `|`, `[` and `]`, and ends at the first `|`; the data
    after it (``#acct|…]…`` for a message, ``]…`` for an answer) is printable ASCII. A sender
    that pads without the `|` (zeros straight before the data, as pysiaalarm answers) leaves
    no `|` before the data's closing `]`: then the data starts at that `]`.
    """
    close = plain.find(b"]")
    head = plain if close == -1 else plain[:close]
    bar = head.find(b"|")
    if bar != -1:
        data = plain[bar + 1 :]
    elif close != -1:
        data = plain[close:]
    else:
        raise DecryptError("decrypted data has neither '|' nor ']': wrong key?")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise DecryptError("decrypted data is not text: wrong key?") from None
    if not text.isprintable():
        raise DecryptError("decrypted data is not printable: wrong key?")
    return text


def decrypt_data(key: bytes, hex_text: str) -> str:
    """Decrypt the hex of an encrypted part and return its data without the padding."""
    return strip_padding(decrypt(key, hex_text))
