"""Where a checkout keeps its data: the embedded Danish data set and the bundled scenarios.

One definition, importable without pandas or pydantic (the CLI's defaults read it).
"""

from pathlib import Path

#: src/klynge_opt/data/paths.py -> parents[3] is the project root of a checkout.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
DENMARK = PROJECT_ROOT / "data" / "denmark"
DEFAULT_SCENARIO = PROJECT_ROOT / "scenarios" / "paper-2017.toml"
