"""Energy spectra per shell: the shell rule is fno.py's K, Parseval, energy_beyond, hidden spectra."""
import numpy as np
import pytest
import torch

from mufno_lite.data import load_dataset
from mufno_lite.data import PDEDataset, UnitGaussianNormalizer
from mufno_lite.fno import FNO, SpectralConv, mode_response
from mufno_lite.spectra import energy_beyond, energy_spectrum, hidden_spectra, mode_shell

torch.set_num_threads(1)

CASES = [((16,), (2, 5, 8, 9)), ((15,), (2, 8)), ((12, 9), (2, 3, 5)), ((12, 10), (2, 4, 6)), ((8, 6, 8), (2, 3))]


def _projector(K, d):
    layer = SpectralConv(1, 1, K, d)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    return layer.double()


@pytest.mark.parametrize("spatial,Ks", CASES)
def test_shell_rule_is_exactly_what_spectral_conv_keeps(spatial, Ks):
    # a K-mode SpectralConv with unit weights projects onto the kept modes; the brute-force mask
    # "shell <= K" applied to the same random field must give the same output: every mode of
    # shell <= K survives and every mode of shell > K is removed
    d = len(spatial)
    g = torch.Generator().manual_seed(d)
    x = torch.randn(1, 1, *spatial, generator=g, dtype=torch.float64)
    dims = tuple(range(2, 2 + d))
    xf = torch.fft.rfftn(x, dim=dims)
    shell = torch.as_tensor(mode_shell(xf.shape[2:], spatial))
    for K in Ks:
        with torch.no_grad():
            y = _projector(K, d)(x)
        masked = torch.fft.irfftn(xf * (shell <= K), s=spatial, dim=dims)
        assert torch.allclose(y, masked, atol=1e-12), (spatial, K)
        # and the mask is not trivial below the largest shell: something is removed, something kept
        assert (shell <= K).any() and ((shell > K).any() or K == int(shell.max()))


@pytest.mark.parametrize("shape,axis", [((16,), 0), ((12, 10), 0), ((12, 10), 1), ((8, 6, 8), 1)])
def test_shell_rule_predicts_fno_mode_response(shape, axis):
    # cosine probe measured by fno.mode_response: a real cosine at frequency k is the modes +k and -k,
    # so its gain is the mean of "shell(+k) <= K" and "shell(-k) <= K" (1/2 at k = K on non-last axes)
    d = len(shape)
    K = 3
    n = shape[axis]
    rshape = list(shape)
    rshape[-1] = shape[-1] // 2 + 1
    shell = mode_shell(rshape)
    for k, gain in mode_response(K, shape, axis):
        idx_p = [0] * d
        idx_m = [0] * d
        idx_p[axis] = k
        idx_m[axis] = (-k) % n if axis != d - 1 else k  # last axis: the rfft bin k stands for +k and -k
        keep = (int(shell[tuple(idx_p)] <= K) + int(shell[tuple(idx_m)] <= K)) / 2
        assert keep == gain, (shape, axis, k)


def test_mode_shell_values():
    assert mode_shell((5,)).tolist() == [1, 2, 3, 4, 5]  # last axis: k + 1
    s = mode_shell((6, 1))[:, 0].tolist()  # fftfreq(6) = 0, 1, 2, -3, -2, -1
    assert s == [1, 2, 3, 3, 2, 1]
    assert mode_shell((4, 3))[3, 2] == 3  # max over axes: max(|-1|, 2 + 1)
    with pytest.raises(ValueError, match="does not belong"):
        mode_shell((4, 3), (4, 7))


@pytest.mark.parametrize("spatial", [(16,), (15,), (12, 9), (6, 8, 7)])
def test_parseval_sum_of_spectrum_is_mean_square(spatial):
    # identity: sum_s E[s] = mean over samples, channels and grid points of x^2, where E counts the
    # rfft half spectrum with weight 2 on last-axis bins 0 < j < n/2 (1 on the zero and Nyquist bins)
    # and divides by (n_1 ... n_d)^2; with exclude_mean the same for x minus its spatial mean
    d = len(spatial)
    x = torch.randn(3, 2, *spatial, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.7
    e = energy_spectrum(x, d)
    assert e.sum() == pytest.approx(float((x ** 2).mean()), rel=1e-12)
    xc = x - x.mean(dim=tuple(range(2, 2 + d)), keepdim=True)
    assert energy_spectrum(x, d, exclude_mean=True).sum() == pytest.approx(float((xc ** 2).mean()), rel=1e-12)
    assert energy_spectrum(x.numpy(), d) == pytest.approx(e)  # numpy input too
    assert len(e) == mode_shell(torch.fft.rfftn(x, dim=tuple(range(2, 2 + d))).shape[2:]).max()


def test_spectrum_of_a_pure_mode_lands_in_its_shell():
    n = 32
    xs = torch.arange(n, dtype=torch.float64) / n
    x = (2.0 * torch.cos(2 * np.pi * 5 * xs))[None, None]  # mean square 2
    e = energy_spectrum(x, 1)
    assert e[5] == pytest.approx(2.0) and np.delete(e, 5).max() < 1e-20  # shell 6 = K needed to keep k=5


def test_energy_beyond_monotone_and_limits():
    x = torch.randn(4, 1, 20, 20, generator=torch.Generator().manual_seed(2))
    e = energy_spectrum(x, 2)
    fr = [energy_beyond(e, K) for K in range(len(e) + 2)]
    assert fr[0] == pytest.approx(1.0)
    assert all(b <= a + 1e-15 for a, b in zip(fr, fr[1:]))
    assert fr[len(e)] == 0.0 and fr[-1] == 0.0
    assert energy_beyond(np.zeros(4), 2) == 0.0
    with pytest.raises(ValueError, match="K"):
        energy_beyond(e, -1)


@pytest.mark.parametrize("members", [None, 2])
def test_hidden_spectra_one_per_layer(members):
    model = FNO(d=2, K=4, width=8, n_layers=3, seed=[0, 1] if members else 0, members=members)
    x = torch.randn(2, 1, 16, 12, generator=torch.Generator().manual_seed(0))
    was_training = model.training
    spectra = hidden_spectra(model, x)
    assert len(spectra) == 3
    # grid (16, 12): non-last shells up to 8, last axis 12 // 2 + 1 = 7 bins -> shells 1..7
    assert all(s.shape == (8,) and np.all(s >= 0) and s.sum() > 0 for s in spectra)
    assert model.training == was_training
    assert not any(m._forward_pre_hooks for m in model.modules())  # hooks removed
    padded = FNO(d=1, K=4, width=8, n_layers=2, seed=0, padding=8)
    sp = hidden_spectra(padded, torch.randn(2, 1, 24))
    assert [len(s) for s in sp] == [(24 + 8) // 2 + 1] * 2


def test_dataset_spectrum_burgers_and_navier_stokes_layout():
    ds = load_dataset("burgers", resolution=32, n_train=3, n_test=2, cache_dir=False, solve_resolution=64)
    sp = ds.spectrum()
    assert set(sp) == {"input", "target"} and len(sp["input"]) == 17
    assert sp["target"].sum() == pytest.approx(float((ds.y_train.double() ** 2).mean()), rel=1e-6)
    assert ds.spectrum("test")["input"].sum() == pytest.approx(float((ds.x_test.double() ** 2).mean()), rel=1e-6)
    with pytest.raises(ValueError, match="split"):
        ds.spectrum("valid")
    # Navier-Stokes layout (N, 1, s, s, n_t): three transformed axes
    x = torch.randn(2, 1, 8, 8, 4)
    ns = PDEDataset(x, x, x, x, {"pde": "navier_stokes"}, UnitGaussianNormalizer(x), UnitGaussianNormalizer(x))
    e = ns.spectrum()["input"]
    assert len(e) == 4 and e.sum() == pytest.approx(float((x.double() ** 2).mean()), rel=1e-6)


def test_plot_spectra():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mufno_lite.figures import __all__ as names
    from mufno_lite.figures import plot_spectra

    assert "plot_spectra" in names
    e1 = np.array([1.0, 0.1, 0.01, 0.0, 1e-5])
    fig = plot_spectra({"input": e1, "target": 2 * e1[::-1] + 1e-9}, Ks=(2, 4), title="t")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 + 2  # two spectra, two K lines
    assert [t.get_text() for t in ax.texts] == ["K=2", "K=4"]
    assert ax.get_yscale() == "log" and ax.get_title() == "t"
    assert np.nansum(ax.get_lines()[0].get_ydata()) == pytest.approx(1.0)  # normalised
    leg = ax.get_legend()
    assert [t.get_text() for t in leg.get_texts()] == ["input", "target"]
    fig.canvas.draw()
    assert leg.get_window_extent().x0 >= ax.get_window_extent().x1  # legend outside the data
    fig2, ax2 = plt.subplots()
    assert plot_spectra({"a": e1}, ax=ax2) is fig2
    with pytest.raises(ValueError):
        plot_spectra({})
    plt.close("all")
