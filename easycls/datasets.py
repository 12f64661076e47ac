"""Make a data set folder easycls reads (training_set/, val_set/, test_set/, classes.txt).

    >>> from easycls import datasets
    >>> datasets.split_dataset('rps28', 'dataset/rps28')  # train/ + test/, or a folder per class
    >>> datasets.from_idx('mnist', 'dataset/mnist')        # MNIST-format IDX files, .gz or not
    >>> datasets.fashion_mnist_to_folder('dataset/fashion_mnist')  # Debian's dataset-fashion-mnist
    >>> datasets.from_cifar('cifar-10-python.tar.gz', 'dataset/cifar10')

Each returns the new folder, ready for `model.load_dataset(...)`, and prints one line
with the number of pictures in each split.
"""
from .data.datasets import (FASHION_MNIST_CLASSES, fashion_mnist_to_folder, from_cifar, from_idx,
                            split_dataset)

__all__ = ["split_dataset", "from_idx", "from_cifar", "fashion_mnist_to_folder",
           "FASHION_MNIST_CLASSES"]
