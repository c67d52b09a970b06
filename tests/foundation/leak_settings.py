"""Settings for the connection-leak test's daphne process: the app, plus a few views that fail."""

from mission_control.settings import *  # noqa: F403

ROOT_URLCONF = "tests.foundation.leak_urls"
