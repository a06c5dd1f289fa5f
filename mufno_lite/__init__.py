"""mufno_lite: muP and zero-shot hyperparameter transfer for Fourier Neural Operators."""
__version__ = "0.1.0"
