"""PDE data for FNO experiments: Burgers (1-D), Darcy (2-D), Navier--Stokes (2-D + time).

Main entry point::

    from mufno_lite.data import load_dataset
    ds = load_dataset("darcy", resolution=64, n_train=1000, n_test=200, seed=0)
    ds.x_train.shape  # (1000, 1, 64, 64)

See :mod:`.dataset` for layouts, :mod:`.normalizers` for the FNO's standardisation, :mod:`.burgers`, :mod:`.darcy`,
:mod:`.navier_stokes` for equations and discretisations, :mod:`.arrays`, :mod:`.files` and
:mod:`.registry` for your own data (``PDEDataset.from_arrays``, :func:`load_files`,
:func:`register_pde`), :mod:`.cache` for the
on-disk cache, :mod:`.memo` for the in-process one a sweep's populations share
(:func:`load_dataset_cached`) and :mod:`.legacy` for the classic FNO/PINO files.
"""
from .burgers import burgers_cole_hopf_sine, burgers_initial_condition, solve_burgers
from .cache import SOLVER_VERSION, CacheError, default_cache_dir
from .darcy import DarcySolver, darcy_coefficient, darcy_residual, solve_darcy
from .dataset import check_resolution_for_modes, generate_split, load_dataset, make_config
from .grf import cosine_grf, periodic_grf, sample_noise
from .arrays import PDEDataset, as_channel_first, dataset_from_arrays
from .files import load_files, read_arrays, read_pair
from .legacy import load_classic, read_mat
from .normalizers import NORMALIZATIONS, ChannelNormalizer, UnitGaussianNormalizer
from .params import PDES
from .registry import get_pde, register_pde, registered_pdes, unregister_pde
from .memo import clear_dataset_cache, load_dataset_cached
from .navier_stokes import ns_diagnostics, ns_forcing, ns_initial_condition, solve_navier_stokes

__all__ = [
    "PDES", "PDEDataset", "UnitGaussianNormalizer", "load_dataset", "load_classic", "make_config",
    "generate_split", "check_resolution_for_modes", "read_mat",
    "solve_burgers", "burgers_initial_condition", "burgers_cole_hopf_sine",
    "DarcySolver", "solve_darcy", "darcy_coefficient", "darcy_residual",
    "solve_navier_stokes", "ns_initial_condition", "ns_forcing", "ns_diagnostics",
    "periodic_grf", "cosine_grf", "sample_noise", "SOLVER_VERSION", "CacheError", "default_cache_dir",
    "load_dataset_cached", "clear_dataset_cache",
    "load_files", "read_arrays", "read_pair", "dataset_from_arrays", "as_channel_first", "ChannelNormalizer",
    "NORMALIZATIONS", "register_pde", "unregister_pde", "get_pde", "registered_pdes",
]
