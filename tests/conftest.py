"""Test-session settings shared by every test directory."""

import os

# The suite compiles thousands of throwaway policies: keep them out of the user's on-disk compile
# store (webhook/cel/compile_cache.py); tests of the store give it a directory of their own.
os.environ.setdefault("CELGATE_COMPILE_CACHE", "off")
