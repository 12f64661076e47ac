"""Make a data set folder easycls reads (training_set/, val_set/, test_set/, classes.txt).

Each returns the new folder, ready for `model.load_dataset(...)`, and prints one line
with the number of pictures in each split.

Example:
    >>> from easycls import datasets
    >>> photos = 'dataset/hand_gray/training_set'     # any folder with a folder per class
    >>> datasets.split_dataset(photos, 'dataset/my_photos', val=0.2, test=0.1).as_posix()
    'dataset/my_photos'
    >>> cls('LeNet').load_dataset('dataset/my_photos').sizes()
    {'train': 210, 'val': 60, 'test': 30}
    >>> mnist = datasets.from_idx('mnist', 'dataset/mnist')        # the four IDX files, .gz or not
    >>> fashion = datasets.fashion_mnist_to_folder('dataset/fashion', src='fashion_mnist')
    >>> cifar = datasets.from_cifar('cifar-10-batches-py', 'dataset/cifar10')
"""
from .data.datasets import (FASHION_MNIST_CLASSES, fashion_mnist_to_folder, from_cifar, from_idx,
                            split_dataset)

__all__ = ["split_dataset", "from_idx", "from_cifar", "fashion_mnist_to_folder",
           "FASHION_MNIST_CLASSES"]
