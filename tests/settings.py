"""Settings for the test suite: the project's settings on the ``test`` service instance.

``make test`` starts that instance (scripts/services.py start test) before pytest runs.
"""

import os

os.environ.setdefault("RVS_INSTANCE", "test")
# Most tests write rows and read them back at once; a replica replays them a moment later, so
# replica reads are on only where tests/archive/test_replicas.py turns them on.
os.environ.setdefault("RVS_REPLICA_READS", "0")

from archive.settings import *  # noqa: E402,F403
