"""The settings the tests run with: seahealth's own, given a key when none is set.

seahealth.settings has no default SECRET_KEY (a published one signs anyone's sessions). A
test run makes a random one and puts it in the environment, where the processes the tests
start (gunicorn, runprobes, Celery, manage.py) find the same one. Production never imports
this module: pyproject.toml names it for pytest alone.
"""

from __future__ import annotations

import os
import secrets

if not (os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE")):
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)

from seahealth.settings import *  # noqa: F403
