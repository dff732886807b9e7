"""Run a trained Keras CNN with fastconv alone: ``fastconv.nn.load_model(path).predict(x)``.

:func:`load_model` reads a Keras 3 ``.keras`` file (a ``Sequential`` model of
``Conv2D``, ``MaxPooling2D``, ``Dropout``, ``Flatten``, ``Dense`` and
``Activation`` layers) with ``zipfile`` and ``h5py``, without importing
TensorFlow; the forward pass uses :func:`fastconv.conv2d` and NumPy.
``python -m fastconv.nn MODEL.keras`` scores a model on the CIFAR-10 test set.
"""

from .keras_file import SUPPORTED_LAYERS
from .layers import ACTIVATIONS, ModelFileError, UnsupportedLayerError
from .model import Model, load_model

__all__ = ["ACTIVATIONS", "SUPPORTED_LAYERS", "Model", "ModelFileError", "UnsupportedLayerError", "load_model"]
