"""Environment defaults for the test run, applied before Django reads its settings.

Loaded as an early pytest plugin (``-p tests.environment`` in pyproject.toml), because
pytest-django imports the settings before any conftest.py. Values already in the
environment win, so CI's PostgreSQL and Redis URLs are kept.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")
# Tests keep their files and broker spool apart from a demo running in the same checkout.
os.environ.setdefault("MEDIA_ROOT", "var/test-media")
os.environ.setdefault("READERSTUDY_UPLOAD_ROOT", "var/test-uploads")
os.environ.setdefault("READERSTUDY_BROKER_DIR", "var/test-broker")
# Playwright's sync API runs an event loop in the test thread; the ORM calls that the tests
# make beside it are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
