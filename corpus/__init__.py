"""Reference data: the institute registry, the region gazetteer and the sample collection."""

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
