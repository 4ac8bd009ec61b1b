"""Where the tests find the public run data: the copy shipped inside the package."""

from pathlib import Path

from curascale.datasets import data_root

ROOT = Path(__file__).resolve().parents[1]
DATASETS = data_root()
