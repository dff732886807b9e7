"""Choosing the device (and the distribution strategy) before TensorFlow touches any."""

from __future__ import annotations

import os

from training.launch import Task


class DeviceError(Exception):
    """The requested device is not available."""


def setup_device(choice: str, replicas: int = 1, task: Task | None = None) -> tuple[str, object | None]:
    """Pick the device before TensorFlow touches any; return (description, strategy or None).

    ``"cpu"`` hides every GPU; ``"gpu"`` requires one; ``"auto"`` uses GPUs when
    TensorFlow sees any. GPUs get memory growth (allocate as needed, not all at
    start); with more than one, training runs under ``tf.distribute.MirroredStrategy``.
    On the CPU, ``replicas > 1`` splits it into that many logical devices and trains
    under ``MirroredStrategy`` over them (the multi-device path, testable without a GPU).
    With ``task`` (this process is one worker of a ``TF_CONFIG`` cluster), training runs
    under ``tf.distribute.MultiWorkerMirroredStrategy`` over every worker's devices; it is
    created here, before any other TensorFlow operation, as TensorFlow requires.

    Examples
    --------
    >>> setup_device("cpu")[0].startswith("CPU")  # doctest: +SKIP
    True
    """
    import tensorflow as tf

    cpu = f"CPU ({os.cpu_count()} logical cores)"
    gpus = tf.config.list_physical_devices("GPU")

    def multi_worker(text):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        return (
            f"{text}; {task.kind} {task.index} of {task.workers} workers under MultiWorkerMirroredStrategy "
            f"({strategy.num_replicas_in_sync} replicas)",
            strategy,
        )

    def on_cpu(text):
        if task is not None:
            return multi_worker(text)
        if replicas == 1:
            return text, None
        physical = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(physical, [tf.config.LogicalDeviceConfiguration()] * replicas)
        names = [d.name for d in tf.config.list_logical_devices("CPU")]
        return f"{text} as {replicas} logical devices under MirroredStrategy", tf.distribute.MirroredStrategy(names)

    if choice == "cpu":
        if gpus:
            tf.config.set_visible_devices([], "GPU")
            return on_cpu(f"{cpu}; {len(gpus)} GPU(s) hidden by --device cpu")
        return on_cpu(cpu)
    if not gpus:
        if choice == "gpu":
            raise DeviceError("--device gpu: TensorFlow sees no GPU (is the CUDA build of TensorFlow installed?)")
        return on_cpu(cpu)
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    names = []
    for gpu in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name))
        except Exception:
            names.append(gpu.name)
    if task is not None:
        return multi_worker(f"{len(gpus)} GPU(s): {', '.join(names)}")
    if len(gpus) > 1:
        return f"{len(gpus)} GPUs under MirroredStrategy: {', '.join(names)}", tf.distribute.MirroredStrategy()
    return f"GPU: {names[0]}", None
