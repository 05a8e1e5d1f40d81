"""What a serving process holds: the URL map imports no plotting library and a Parquet result
imports no pandas (~30 and ~40 MB of resident memory a TAP download does not need;
docs/benchmarks.md). Checked in a fresh interpreter, as a gunicorn worker starts."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CODE = """
import json, sys
import django
django.setup()
from django.urls import get_resolver
for _ in get_resolver().url_patterns:
    pass
import numpy as np
from archive.metadata.fields import VOField
from archive.results import parquet
from archive.results.fetch import Chunk, ColumnChunk
url_map = sorted(m for m in ("matplotlib", "pandas") if m in sys.modules)
fields = [VOField("b", "boolean"), VOField("n", "short"), VOField("x", "double", arraysize="*")]
mask = np.array([False, True, False])
columns = [
    ColumnChunk(np.array([True, False, False]), mask),
    ColumnChunk(np.array([7, 0, -3], dtype="i2"), mask),
    ColumnChunk(np.array([1.5, 2.5, 3.5]), mask, np.array([0, 2, 2, 3])),
]
batch = parquet.record_batch(Chunk(3, columns), fields, parquet.schema(fields))
print(json.dumps({"url_map": url_map, "pandas": "pandas" in sys.modules,
                  "rows": batch.to_pylist()}))
"""


def test_the_url_map_and_a_parquet_result_load_no_plotting_and_no_pandas():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "archive.settings", "RVS_INSTANCE": "test"}
    run = subprocess.run(
        [sys.executable, "-c", CODE], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["url_map"] == [] and out["pandas"] is False
    assert out["rows"] == [  # Arrow arrays built on the numpy buffers, nulls where masked
        {"b": True, "n": 7, "x": [1.5, 2.5]},
        {"b": None, "n": None, "x": None},
        {"b": False, "n": -3, "x": [3.5]},
    ]
