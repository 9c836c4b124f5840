"""MODS: Massive Online Data Streams (forecasting and alerting on monitoring series)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "mods" / "__init__.py").read_text())[1]
REQUIRES = [line.split("#")[0].strip() for line in (HERE / "requirements.txt").read_text()
            .splitlines() if line.split("#")[0].strip() and not line.startswith("-")]

setup(
    name="mods",
    version=VERSION,
    description="Forecast multivariate network-monitoring time series with Keras models and "
                "raise alerts where prediction and reality disagree (DEEPaaS service).",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    author="MODS developers",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["mods", "mods.*"]),
    install_requires=REQUIRES,
    extras_require={"spark": ["pyspark>=3.4", "pyarrow>=18"]},
    entry_points={
        "deepaas.v2.model": ["mods = mods.api"],
        "console_scripts": [
            "mods-serve = mods.serve:main",
            "mods-train = mods.cli:train_main",
            "mods-predict = mods.cli:predict_main",
            "mods-test = mods.cli:test_main",
            "mods-detect = mods.cli:detect_main",
            "mods-features = mods.features.cli:main",
            "mods-stream = mods.stream.cli:main",
            "mods-stream-spark = mods.stream.spark_job:main",
        ],
    },
)
