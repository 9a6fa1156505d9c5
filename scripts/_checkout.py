"""Put this checkout's ``moonlight`` package first on ``sys.path``, and draw figures on
Matplotlib's non-interactive Agg backend (a job has no display).

Rule scripts import it before the package, so a job runs the library of the workflow it
belongs to, whether or not (or whichever version of) moonlight is installed.
"""

import os
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("MPLBACKEND", "Agg")
