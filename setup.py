from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec(Path("easycls/version.py").read_text(encoding="utf-8"), version)

setup(
    name="easycls",
    version=version["__version__"],
    description="Beginner-friendly image classification on PyTorch: train and infer in three lines.",
    long_description=Path("README.md").read_text(encoding="utf-8") if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["easycls", "easycls.*"]),
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.1",
        "torchvision>=0.16",
        "pillow>=10.1",
        "numpy>=1.22",
        "opencv-python-headless>=4.5",
        "matplotlib>=3.5",
        "tqdm>=4.60",
        "grad-cam>=1.5",
    ],
    extras_require={
        "export": ["onnx>=1.14", "onnxruntime>=1.16", "onnxscript>=0.1"],
        "labels": ["cleanlab>=2.5"],
        "app": ["gradio>=6.0"],
        "test": ["pytest>=7", "hypothesis>=6", "onnx>=1.14", "onnxruntime>=1.16",
                 "onnxscript>=0.1", "cleanlab>=2.5", "nbformat>=5", "nbclient>=0.7",
                 "ipykernel>=6", "gradio>=6.0", "gradio_client>=2.0", "selenium>=4.11"],
    },
    entry_points={"console_scripts": ["easycls = easycls.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
        "Intended Audience :: Education",
    ],
)
