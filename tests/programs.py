"""Programs a few tests take from the machine rather than from PyPI (kubectl renders the
Kubernetes manifests). On a machine without one, those tests are skipped with the reason, so
the README's test command passes with only Python and uv; under ``CI=true`` (``.ci/run``) a
missing program is a failure, so CI never skips them silently."""

from __future__ import annotations

import os
import shutil

import pytest


def under_ci() -> bool:
    """Whether this is a CI run, where nothing may be skipped for a missing program."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def program_or_skip(name: str, needed_for: str, install: str) -> str:
    """The path of ``name``; else skip (locally) or fail (under CI), saying what it is for."""
    found = shutil.which(name)
    if found:
        return found
    if under_ci():
        pytest.fail(f"{name} is missing under CI ({needed_for}): {install}")
    pytest.skip(f"{name} is not installed: {needed_for} ({install})")
