"""Counted nouns for what the commands print: "1 photo", "2 photos", "1 file imported"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str = "") -> str:
    """`n` and the noun, singular for exactly 1 ("1 photo", "0 photos"); `plural` when not noun + "s"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
