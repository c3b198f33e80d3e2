"""The encoder registry ``ENCODERS``, apart from the encoders the package registers, so that an encoder built over
another encoder component (``cpc``'s sentence encoder) can look it up without importing the package it is part of."""

from __future__ import annotations

from ..registry import Registry

ENCODERS: Registry[type] = Registry("encoder")
