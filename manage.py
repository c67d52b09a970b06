#!/usr/bin/env python
"""Django's command-line utility for Mission Control."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError:
        sys.exit(
            f"Django is not installed for {sys.executable}.\n"
            "Run Mission Control with its own environment: `.venv/bin/python manage.py "
            f"{' '.join(sys.argv[1:]) or '<command>'}`,\n"
            "or `python3 dev.py up` (it creates .venv first; `python3 dev.py install` only creates it)."
        )

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
