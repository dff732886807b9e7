"""Experiments on CIFAR-10 with small Keras CNNs (``python -m training.run``)."""
