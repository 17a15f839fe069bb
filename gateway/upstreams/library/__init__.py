"""The embedded SQLite photo library (placeholder until the library lands)."""

from __future__ import annotations

from ...model import Page


class Library:
    name = "library"

    def photos(self, method, args):
        return Page(())


def create(app):
    return Library()
