"""Shared test settings: the hypothesis `ci` profile (100 examples, derandomized, no deadline),
loaded when the CI environment variable is set so that CI runs are reproducible."""

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=100, derandomize=True, deadline=None, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
