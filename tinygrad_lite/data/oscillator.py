"""The driven damped oscillator m x'' + gamma x' + k x = F(t), discretised by explicit Euler.

A regression task for recurrent models: the input sequence is the force F, the target the
position x it produces. The integrator is explicit Euler, exactly:

    v[i+1] = v[i] + dt * (F[i] - gamma * v[i] - k * x[i]) / m
    x[i+1] = x[i] + dt * v[i]

so the data are a known, exactly reproducible function of F (an RNN can in principle learn the
update itself). Input and target are aligned in time: `target[i] = x[i]`, the position at
t_i = i * dt, with x[0] = x0.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor

__all__ = [
    "euler_oscillator",
    "sine_forcing",
    "smooth_random_forcing",
    "oscillator_dataset",
    "make_windows",
]


def euler_oscillator(
    force,
    dt: float = 0.05,
    mass: float = 1.0,
    damping: float = 0.1,
    stiffness: float = 1.0,
    x0: float = 0.0,
    v0: float = 0.0,
) -> np.ndarray:
    """Positions x[0..T-1] driven by `force` (shape (T,) or (N, T)), explicit Euler in float64.

    >>> x = euler_oscillator([1.0, 1.0, 1.0], dt=0.5)  # x1 = x0 + dt*v0 = 0, x2 = 0 + 0.5*0.5
    >>> x.tolist()
    [0.0, 0.0, 0.25]
    """
    if mass <= 0 or dt <= 0:
        raise ValueError(f"euler_oscillator: mass ({mass}) and dt ({dt}) must be positive")
    f = np.asarray(force, dtype=np.float64)
    steps = f.shape[-1]
    x = np.empty_like(f)
    pos = np.full(f.shape[:-1], float(x0))
    vel = np.full(f.shape[:-1], float(v0))
    for i in range(steps):
        x[..., i] = pos
        # Both updates read the old (pos, vel): the right-hand sides use index i only.
        pos, vel = pos + dt * vel, vel + dt * (f[..., i] - damping * vel - stiffness * pos) / mass
    return x


def sine_forcing(
    length: int,
    dt: float = 0.05,
    amplitudes=(1.0,),
    frequencies=(0.5,),
    phases=None,
) -> np.ndarray:
    """F(t_i) = sum_j a_j sin(2 pi f_j t_i + phi_j) at t_i = i * dt (frequencies in cycles per
    unit time).

    >>> sine_forcing(3, dt=0.25, amplitudes=[2.0], frequencies=[1.0]).round(6).tolist()
    [0.0, 2.0, 0.0]
    """
    amplitudes = np.asarray(amplitudes, dtype=np.float64)
    frequencies = np.asarray(frequencies, dtype=np.float64)
    phases = np.zeros_like(amplitudes) if phases is None else np.asarray(phases, np.float64)
    if not amplitudes.shape == frequencies.shape == phases.shape:
        raise ValueError(
            f"sine_forcing: amplitudes {amplitudes.shape}, frequencies {frequencies.shape} and "
            f"phases {phases.shape} must have the same length"
        )
    t = np.arange(length) * dt
    waves = amplitudes[:, None] * np.sin(2 * np.pi * frequencies[:, None] * t + phases[:, None])
    return waves.sum(axis=0)


def smooth_random_forcing(
    length: int, rng: np.random.Generator, smoothness: float = 10.0, scale: float = 1.0
) -> np.ndarray:
    """White noise smoothed by a Gaussian kernel of width `smoothness` steps, rescaled to
    standard deviation `scale`: a random force with no sharp kicks.

    >>> f = smooth_random_forcing(200, np.random.default_rng(0))
    >>> f.shape, round(float(f.std()), 6)
    ((200,), 1.0)
    """
    if smoothness <= 0:
        raise ValueError(f"smooth_random_forcing: smoothness must be positive, got {smoothness}")
    half = int(np.ceil(3 * smoothness))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / smoothness) ** 2)
    noise = rng.standard_normal(length + 2 * half)
    smooth = np.convolve(noise, kernel / kernel.sum(), mode="valid")
    return scale * (smooth - smooth.mean()) / (smooth.std() + 1e-12)


def oscillator_dataset(
    n: int,
    length: int,
    dt: float = 0.05,
    mass: float = 1.0,
    damping: float = 0.1,
    stiffness: float = 1.0,
    forcing: str = "sines",
    num_sines: int = 3,
    seed: int = 0,
    dtype=np.float32,
) -> tuple[Tensor, Tensor]:
    """`n` independent trajectories: (forces, positions), each a Tensor of shape (n, length, 1).

    `forcing="sines"` draws `num_sines` sines per trajectory (amplitude in [0.5, 1.5],
    frequency in [0.05, 0.5], random phase); `forcing="smooth"` uses `smooth_random_forcing`.

    >>> F, x = oscillator_dataset(4, 50, seed=1)
    >>> F.shape, x.shape, float(x[0, 0, 0].item())
    ((4, 50, 1), (4, 50, 1), 0.0)
    """
    rng = np.random.default_rng(seed)
    forces = np.empty((n, length))
    for i in range(n):
        if forcing == "sines":
            forces[i] = sine_forcing(
                length,
                dt,
                amplitudes=rng.uniform(0.5, 1.5, num_sines),
                frequencies=rng.uniform(0.05, 0.5, num_sines),
                phases=rng.uniform(0, 2 * np.pi, num_sines),
            )
        elif forcing == "smooth":
            forces[i] = smooth_random_forcing(length, rng)
        else:
            raise ValueError(
                f"oscillator_dataset: forcing must be 'sines' or 'smooth', got {forcing!r}"
            )
    x = euler_oscillator(forces, dt, mass, damping, stiffness)
    return (
        Tensor._wrap(forces[..., None].astype(dtype)),
        Tensor._wrap(x[..., None].astype(dtype)),
    )


def make_windows(force, position, window: int, stride: int | None = None) -> tuple[Tensor, Tensor]:
    """Cut one long trajectory (shape (T,)) into windows of shape (N, window, 1), `stride`
    steps apart (default: non-overlapping).

    >>> F, x = make_windows(np.arange(10.0), np.arange(10.0), window=4)
    >>> F.shape, F[:, 0, 0].tolist()
    ((2, 4, 1), [0.0, 4.0])
    """
    f = force.data if isinstance(force, Tensor) else np.asarray(force)
    p = position.data if isinstance(position, Tensor) else np.asarray(position)
    f, p = f.reshape(-1), p.reshape(-1)
    if f.shape != p.shape:
        raise ValueError(f"make_windows: force {f.shape} and position {p.shape} must match")
    stride = window if stride is None else stride
    if window < 1 or stride < 1 or window > len(f):
        raise ValueError(
            f"make_windows: need 1 <= window <= {len(f)} and stride >= 1, got window={window}, "
            f"stride={stride}"
        )
    starts = range(0, len(f) - window + 1, stride)
    fw = np.stack([f[s : s + window] for s in starts])[..., None]
    pw = np.stack([p[s : s + window] for s in starts])[..., None]
    return Tensor._wrap(fw), Tensor._wrap(pw)
