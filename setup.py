"""Packaging: ``oneshot/``, ``spaces/`` and ``strategies/`` install as ``oneshot``,
``oneshot.spaces`` and ``oneshot.strategies`` (a top-level ``spaces`` package would collide with an
existing PyPI distribution; see docs/architecture.md)."""
from setuptools import find_packages, setup

def _subpackages(folder: str, prefix: str) -> dict[str, str]:
    return {f"{prefix}.{p}" if p else prefix: f"{folder}/{p.replace('.', '/')}" if p else folder
            for p in [""] + find_packages(folder)}

package_dir = {"oneshot": "oneshot"}
package_dir.update(_subpackages("spaces", "oneshot.spaces"))
package_dir.update(_subpackages("strategies", "oneshot.strategies"))
packages = ["oneshot"] + [f"oneshot.{p}" for p in find_packages("oneshot")]
packages += [k for k in package_dir if k.startswith(("oneshot.spaces", "oneshot.strategies"))]

setup(
    name="oneshot",
    version="0.1.0",
    description="One-shot neural architecture search: supernet training, multi-objective search, "
                "latency tables, Ray-parallel evaluation",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=sorted(set(packages)),
    package_dir=package_dir,
    package_data={"oneshot": ["data/*.json", "data/*.npz", "data/LICENSE*", "data/*.md", "data/luts/*"]},
    install_requires=[
        "torch>=2.1,<3",
        "torchvision>=0.16",
        "numpy>=1.24",
        "pandas>=2.0",
        "ray[default,tune]>=2.9",  # default: dashboard + job API for `ray job submit` (cluster recipe)
        "pymoo>=0.6.1,<0.7",
        "fvcore>=0.1.5",
        "matplotlib>=3.6",      # Pareto and LUT-validation plots
        "scikit-learn>=1.2",    # the embedded 'digits' dataset (real handwritten digits, no download)
        "pyyaml>=6.0",          # YAML configs and OFA/ProxylessNAS latency tables
        "tqdm>=4.60",           # progress bars
    ],
    extras_require={"test": ["pytest>=7", "pytest-timeout>=2.1"], "onnx": ["onnx>=1.14"]},
    entry_points={"console_scripts": ["oneshot=oneshot.cli.main:main"]},
)
