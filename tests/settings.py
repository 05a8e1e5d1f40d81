"""Settings for the test suite: the project's settings on the ``test`` service instance.

``make test`` starts that instance (scripts/services.py start test) before pytest runs.
"""

import os

os.environ.setdefault("RVS_INSTANCE", "test")

from archive.settings import *  # noqa: E402,F403
