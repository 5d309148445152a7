# Copyright (c) 2026 the keras-single-files authors. MIT License:
# Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
# associated documentation files (the "Software"), to deal in the Software without restriction,
# including without limitation the rights to use, copy, modify, merge, publish, distribute,
# sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
# furnished to do so, subject to the following conditions: The above copyright notice and this
# permission notice shall be included in all copies or substantial portions of the Software. THE
# SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
# LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
# NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
# DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
# OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""rope_curve: the shape of a rope spinning about a vertical rod, with and without gravity.

A uniform rope of length L has both ends on a rod that spins at angular speed w, the ends a
distance d apart. In the rotating frame the rope is at rest under its tension, the centrifugal
force rho w^2 x per unit length (x the distance from the rod) and, if present, gravity. Three
cases make the complete answer:

1. No gravity: the troposkein ("turning rope", the Darrieus turbine blade), in closed form
   r(z) = R sn(2Kz/d | m), with L/d = 2E(m)/((1-m)K(m)) - 1. The shape does not depend on w.
2. Gravity along the rod: no closed form. Shooting with Newton's method and continuation in
   Gamma = g/(w^2 d) from the troposkein. The whirl shrinks onto the folded hanging rope as
   Gamma approaches Kolodner's critical value of the upper strand, 2 (L/d + 1) / j_{0,1}^2.
3. A heavy rope hanging from the rod with its lower end free (Kolodner 1955): it leaves the
   axis only above w_n = (j_{0,n}/2) sqrt(g/L); above w_n it has n whirling modes.

The elliptic functions are written here in numpy (AGM, Carlson's R_F/R_D, descending Landen
with the complementary parameter m1 = 1 - m carried separately).

References: Blackwell & Reis, "Blade shape for a troposkien type of vertical-axis wind turbine",
Sandia SLA-74-0154 (1974); I. I. Kolodner, "Heavy rotating string - a nonlinear eigenvalue
problem", Comm. Pure Appl. Math. 8 (1955); B. C. Carlson, Numer. Algorithms 10 (1995);
DLMF chapters 19 and 22.

Usage:
    >>> from rope_curve import troposkein
    >>> rope = troposkein(length=3.0, span=2.0, omega=10.0)
    >>> round(rope.max_radius, 6), round(rope.end_angle_deg, 3)
    (1.031409, 60.894)

    python rope_curve.py --length 3 --span 2 --png rope.png
    python rope_curve.py --out figures/        # the three cases, a figure of each

Requirements: numpy (matplotlib for figures). Copy this file, keep this header. Licence: MIT.
"""

__version__ = "0.1.0"
__all__ = [
    "ellipk", "ellipe", "ellipeinc", "carlson_rf", "carlson_rd", "ellipj",
    "j0_zeros", "Troposkein", "troposkein", "troposkein_from_radius", "GravityRope",
    "rope_with_gravity", "collapse_gamma", "critical_speeds", "WhirlingMode", "whirling_mode",
    "plot_curves", "main",
]

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

_EPS = np.finfo(float).eps

# ----------------------------------------------------------------------------- argument checks

def _real(name: str, value, low: float = 0.0, high: float = math.inf, closed: bool = False,
          why: str = "") -> float:
    """The check of every scalar argument: a finite float in (low, high], [low, high] if closed."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]  # a 0-d array is a number; larger arrays are refused below
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a real number, received {type(value).__name__}.")
    value = float(value)
    inside = low <= value <= high if closed else low < value <= high
    if not (math.isfinite(value) and inside):
        want = (f"finite and {'>=' if closed else '>'} {low:.10g}" if high == math.inf else
                f"in {'[' if closed else '('}{low:.10g}, {high:.10g}]")
        raise ValueError(f"`{name}` must be {want}{why}, received {value!r}.")
    return value


def _integer(name: str, value, low: int, high: int, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
            low <= value <= high):
        raise ValueError(f"`{name}` must be an integer in [{low}, {high}]{why}, received "
                         f"{value!r}.")
    return int(value)


def _reals(name: str, value, finite: bool = False) -> np.ndarray:
    """`value` as a float array; strings, complex, bool and None are refused, not converted."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be real numbers, received {array.dtype} {value!r:.60}.")
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be finite, received {array}.")
    return array.astype(float)


def _parameters(m, m1):
    """Broadcast m and m1 = 1 - m; pass m1 to keep its digits when m is close to 1."""
    m = _reals("m", m)
    m1 = 1.0 - m if m1 is None else _reals("m1", m1)
    if np.any(~(m >= 0)) or np.any(~(m1 >= 0)):
        raise ValueError(f"`m` must lie in [0, 1] (with m1 = 1 - m >= 0), received m={m}.")
    if np.any(np.abs(m + m1 - 1) > 4 * _EPS):  # m1 carries digits of 1 - m, not another value
        raise ValueError(f"`m1` must equal 1 - m up to rounding, received m={m}, m1={m1}.")
    return m, m1


# ----------------------------------------------------------------------------- special functions

def _agm_sum(m, m1):
    """K(m) and D(m) = E(m) - m1 K(m) by the arithmetic-geometric mean (DLMF 19.8).

    E = K (1 - sum 2^(n-1) c_n^2) with c_0^2 = m; D subtracts m1 K term by term, so it has no
    cancellation for a nearly straight rope (m -> 0). c_(n+1) = c_n^2 / (4 a_(n+1)) avoids the
    difference a_n - g_n. Works on floats and on arrays alike (scalars stay fast in solvers).
    """
    a, g, c2, tail, weight = 1.0, m1 ** 0.5, m, 0.0, 0.5
    for _ in range(40):
        a, g, c_prev2 = 0.5 * (a + g), (a * g) ** 0.5, c2
        c2 = c_prev2 * c_prev2 / (16.0 * a * a)
        weight *= 2.0
        tail = tail + weight * c2  # sum over n >= 1 of 2^(n-1) c_n^2
        if np.all(weight * c2 <= 1e-17 * (m + tail)):
            break
    k = np.pi / (2.0 * a)
    return k, k * (0.5 * m - tail)


def _agm(m, m1):
    """K(m) and D(m) = E(m) - m1 K(m), accurate to a few ulp for all m in [0, 1).

    For m1 < 0.01 the AGM sum cancels (E/K -> 0 while its terms stay near 1/2), so there E
    comes from Legendre's relation E K' + E' K - K K' = pi/2 with the complementary integrals
    K' = K(m1), K' - E' = m1 K' - D(m1), which are well conditioned.
    """
    k, d = _agm_sum(m, m1)
    if np.all(m1 >= 0.01):
        return k, d
    k_c, d_c = _agm_sum(m1, m)
    d_legendre = (np.pi / 2 + k * (m1 * k_c - d_c)) / k_c - m1 * k
    return (k, d_legendre) if np.ndim(m1) == 0 else (k, np.where(m1 < 0.01, d_legendre, d))


def ellipk(m: ArrayLike, m1: ArrayLike | None = None) -> np.ndarray:
    """Complete elliptic integral of the first kind K(m) by the AGM, as an array (inf at m = 1).

    Args:
        m: parameter in [0, 1]; m1: optional 1 - m, to give when m is close to 1 (as in every
            function here that takes m).
    """
    m, m1 = _parameters(m, m1)
    with np.errstate(divide="ignore"):
        return np.where(m1 == 0, np.inf, _agm(m, m1)[0])


def ellipe(m: ArrayLike, m1: ArrayLike | None = None) -> np.ndarray:
    """Complete elliptic integral of the second kind E(m) = D + m1 K, by the AGM (see ellipk)."""
    m, m1 = _parameters(m, m1)
    k, d = _agm(m, np.where(m1 == 0, 1.0, m1))
    return np.where(m1 == 0, 1.0, d + m1 * k)


def _carlson_args(x, y, z, name: str, degenerate):
    """Broadcast float arrays; refuse negative or degenerate arguments (the integral diverges)."""
    x, y, z = np.broadcast_arrays(*(_reals(k, v) for k, v in zip("xyz", (x, y, z), strict=True)))
    if (np.any(~((x >= 0) & (y >= 0) & (z >= 0))) or not np.all(np.isfinite(x + y + z))
            or np.any(degenerate(x, y, z))):
        raise ValueError(f"{name} needs finite non-negative x, y, z ({name} = inf when "
                         f"{'two are zero' if name == 'R_F' else 'z = 0 or x = y = 0'}), "
                         f"received x={x}, y={y}, z={z}.")
    return x, y, z


def carlson_rf(x: ArrayLike, y: ArrayLike, z: ArrayLike) -> np.ndarray:
    """Carlson's R_F = 1/2 int_0^inf dt / sqrt((t+x)(t+y)(t+z)) by duplication (DLMF 19.36.1).

    Args:
        x, y, z: non-negative arrays (broadcast), at most one of them zero.
    """
    x0, y0, z0 = x, y, z = _carlson_args(x, y, z, "R_F", lambda *v: sum(a == 0 for a in v) > 1)
    a0 = (x + y + z) / 3.0
    q = (3.0 * _EPS) ** (-1 / 6) * np.maximum.reduce([abs(a0 - x), abs(a0 - y), abs(a0 - z)])
    a, scale = a0, 1.0
    while np.any(scale * q >= abs(a)):
        sx, sy, sz = np.sqrt(x), np.sqrt(y), np.sqrt(z)
        lam = sx * sy + sx * sz + sy * sz
        x, y, z, a = (x + lam) / 4, (y + lam) / 4, (z + lam) / 4, (a + lam) / 4
        scale /= 4.0
    dx, dy = scale * (a0 - x0) / a, scale * (a0 - y0) / a
    dz = -(dx + dy)
    e2, e3 = dx * dy - dz * dz, dx * dy * dz
    return (1 - e2 / 10 + e3 / 14 + e2 * e2 / 24 - 3 * e2 * e3 / 44) / np.sqrt(a)


def carlson_rd(x: ArrayLike, y: ArrayLike, z: ArrayLike) -> np.ndarray:
    """Carlson's R_D = 3/2 int_0^inf dt / (sqrt((t+x)(t+y)) (t+z)^(3/2)) (DLMF 19.36.2).

    Args:
        x, y: non-negative arrays, not both zero; z: positive array (broadcast).
    """
    x0, y0, z0 = x, y, z = _carlson_args(x, y, z, "R_D", lambda x, y, z: (x + y == 0) | (z == 0))
    a0 = (x + y + 3 * z) / 5.0
    q = (_EPS / 4) ** (-1 / 6) * np.maximum.reduce([abs(a0 - x), abs(a0 - y), abs(a0 - z)])
    a, scale, tail = a0, 1.0, 0.0
    while np.any(scale * q >= abs(a)):
        sx, sy, sz = np.sqrt(x), np.sqrt(y), np.sqrt(z)
        lam = sx * sy + sx * sz + sy * sz
        tail = tail + scale / (sz * (z + lam))
        x, y, z, a = (x + lam) / 4, (y + lam) / 4, (z + lam) / 4, (a + lam) / 4
        scale /= 4.0
    dx, dy = scale * (a0 - x0) / a, scale * (a0 - y0) / a
    dz = -(dx + dy) / 3
    xy, z2 = dx * dy, dz * dz
    e2, e3, e4, e5 = xy - 6 * z2, (3 * xy - 8 * z2) * dz, 3 * (xy - z2) * z2, xy * z2 * dz
    series = (1 - 3 * e2 / 14 + e3 / 6 + 9 * e2 * e2 / 88 - 3 * e4 / 22 - 9 * e2 * e3 / 52
              + 3 * e5 / 26)
    return scale * series / (a * np.sqrt(a)) + 3 * tail


def ellipeinc(phi: ArrayLike, m: ArrayLike, m1: ArrayLike | None = None) -> np.ndarray:
    """Incomplete integral of the second kind E(phi | m), in a form with positive terms only.

    E = m1 s R_F(c^2, D^2, 1) + m m1 s^3 R_D(c^2, 1, D^2) / 3 + m s c / D, D^2 = c^2 + m1 s^2
    (DLMF 19.25.10); the usual s R_F - m s^3 R_D / 3 loses digits when m is close to 1.
    """
    m, m1 = _parameters(m, m1)
    phi = _reals("phi", phi, finite=True)
    n = np.round(phi / np.pi)  # phi = n pi + rest, |rest| <= pi/2: E gains 2 E(m) per n
    s, c = np.sin(phi - n * np.pi), np.cos(phi - n * np.pi)
    delta2 = c * c + m1 * s * s  # > 0: cos of a double is never exactly 0
    rest = (m1 * s * carlson_rf(c * c, delta2, 1.0)
            + m * m1 * s ** 3 * carlson_rd(c * c, 1.0, delta2) / 3 + m * s * c / np.sqrt(delta2))
    return rest if not np.any(n) else rest + 2 * n * ellipe(m, m1)


def ellipj(u: ArrayLike, m: ArrayLike, m1: ArrayLike | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jacobi sn, cn, dn by descending Landen (Gauss) transformations, DLMF 22.7.1-22.7.3.

    Each step maps k to k_(n+1) = (1 - k')/(1 + k') = k^2/(1 + k')^2 and carries k' separately,
    so m1 down to 1e-300 keeps ~13 digits; at the bottom sn = sin, cn = cos, dn = 1 to O(k^2).
    Going back up, dn = (1 - k + k cn^2)/(1 + k sn^2) with 1 - k = 2k'/(1 + k') avoids both the
    0/0 of the amplitude-ratio formula at u = K and the cancellation of dn^2 - (1 - k).
    Returns (sn, cn, dn) as arrays broadcast over u and m (m1 as in `ellipk`).
    """
    m, m1 = _parameters(m, m1)
    u0 = _reals("u", u, finite=True)
    limit = m1 == 0  # m = 1: the Landen chain stands still; sn = tanh, cn = dn = sech
    m, m1 = np.where(limit, 0.0, m), np.where(limit, 1.0, m1)
    u, k, kp, steps = u0, np.sqrt(m), np.sqrt(m1), []
    while np.any(k > 1e-8):
        k, kp, one_minus = m / (1 + kp) ** 2, 2 * np.sqrt(kp) / (1 + kp), 2 * kp / (1 + kp)
        m = k * k
        steps.append((k, one_minus))
        u = u / (1 + k)
    sn, cn, dn = np.sin(u), np.cos(u), np.ones_like(u)
    for k, one_minus in reversed(steps):
        den = 1 + k * sn * sn
        sn, cn, dn = (1 + k) * sn / den, cn * dn / den, (one_minus + k * cn * cn) / den
    if np.any(limit):
        sech = 1 / np.cosh(u0)
        sn, cn, dn = np.where(limit, np.tanh(u0), sn), np.where(limit, sech, cn), np.where(
            limit, sech, dn)
    return sn, cn, dn


def _bessel_j(order: int, x):
    """J_0 or J_1 by the trapezoidal rule on J_n(x) = 1/(2 pi) int cos(n t - x sin t) dt.

    The integrand is periodic and entire, so M equally spaced points are exact up to the
    aliased terms J_(M-n)(x), negligible once M exceeds x by a few dozen.
    """
    x = np.asarray(x, dtype=float)
    points = int(1.3 * np.max(np.abs(x), initial=0.0)) + 64
    t = 2 * np.pi * np.arange(points) / points
    return np.cos(order * t - x[..., None] * np.sin(t)).mean(axis=-1)


def j0_zeros(n: int) -> np.ndarray:
    """The first n positive zeros j_(0,k) of the Bessel function J_0, as an increasing array.

    McMahon's expansion (DLMF 10.21.19) starts each zero within ~2e-3 and is exact to
    rounding from the 40th on (next term ~1e-15 / j^7); Newton steps j <- j + J_0(j)/J_1(j)
    on the trapezoidal J_0, J_1 finish the first 40, whose cost would grow like n^2.

    Args:
        n: how many zeros, an integer in [1, 1000000].
    """
    n = _integer("n", n, 1, 10 ** 6)
    beta = (np.arange(1, n + 1) - 0.25) * np.pi
    b8 = 8 * beta
    zeros = beta + 1 / b8 - 124 / (3 * b8 ** 3) + 120928 / (15 * b8 ** 5)
    for _ in range(3):
        first = zeros[:40]
        zeros[:40] = first + _bessel_j(0, first) / _bessel_j(1, first)
    return zeros


# ----------------------------------------------------------------------------- case 1: troposkein

def _solve_logit(curve, target: float, start: float, what: str) -> tuple[float, float]:
    """Solve curve(t) = target for t = ln(m/m1) by Newton inside a bisection bracket.

    `curve(m, m1)` returns (value, d value / dt), increasing in t. Working in t keeps m and
    m1 = 1 - m both to full relative precision: m = 1/(1 + e^-t), m1 = 1/(1 + e^t).
    """
    lo, hi, t = -80.0, 36.0, min(max(start, -79.0), 35.0)
    for _ in range(100):
        m, m1 = 1 / (1 + math.exp(-t)), 1 / (1 + math.exp(t))
        value, slope = curve(m, m1)
        lo, hi = (t, hi) if value < target else (lo, t)
        step = (value - target) / slope
        t_new = t - step if lo < t - step < hi else 0.5 * (lo + hi)
        if abs(t_new - t) <= 2 * _EPS * max(1.0, abs(t)) or hi - lo < 4 * _EPS * abs(t):
            break
        t = t_new
    if not -79.9 < t < 35.9:
        raise ValueError(f"{what} is outside the supported range (m from 1e-34 to 1 - 2e-16, "
                         f"that is L/d - 1 from ~1e-34 to ~1e14).")
    return 1 / (1 + math.exp(-t)), 1 / (1 + math.exp(t))


def _log_excess(m, m1):
    """ln(L/d - 1) = ln(2 D/(m1 K)) and its t-derivative, using dD/dm = K/2, dK/dm = D/(2 m m1)."""
    k, d = _agm(m, m1)
    return math.log(2 * d / (m1 * k)), m * m1 * k / (2 * d) + m - d / (2 * k)


def _log_radius(m, m1):
    """ln(R/d) = ln(sqrt(m)/(m1 K)) and its t-derivative."""
    k, d = _agm(m, m1)
    return 0.5 * math.log(m) - math.log(m1 * k), 0.5 * m1 + m - d / (2 * k)


@dataclass(frozen=True)
class Troposkein:
    """The troposkein r(z) = R sn(2Kz/d | m) of a rope spinning without gravity.

    z runs along the axis from one end (z = 0) to the other (z = d); r is the distance from
    the axis. Tensions scale with density * omega^2; the shape does not depend on omega.
    """

    length: float
    span: float
    omega: float
    density: float
    m: float
    m1: float
    K: float
    E: float

    @property
    def max_radius(self) -> float:
        """R = d sqrt(m) / (m1 K), reached at z = d/2."""
        return self.span * math.sqrt(self.m) / (self.m1 * self.K)

    @property
    def _unit_tension(self) -> float:
        """rho w^2 d^2 / (4 m1^2 K^2): the common factor of all tensions."""
        unit = self.omega * self.span / (2 * self.m1 * self.K)
        return self.density * unit * unit

    @property
    def axial_force(self) -> float:
        """H = rho w^2 d^2 / (4 m1 K^2): the constant axial tension component, pulling the ends."""
        return self._unit_tension * self.m1

    @property
    def end_tension(self) -> float:
        """Tension at the ends (on the axis), rho w^2 d^2 (1 + m) / (4 m1^2 K^2)."""
        return self._unit_tension * (1 + self.m)

    @property
    def end_angle_deg(self) -> float:
        """Angle between the rope and the axis at an end, degrees: tan = 2 sqrt(m) / m1."""
        return math.degrees(math.atan2(2 * math.sqrt(self.m), self.m1))

    @property
    def moment_of_inertia(self) -> float:
        """I = rho int r^2 ds = rho d R^2 (m1 R_D(0,1,m1)/3 + E) / (3 m1 K), cancellation-free."""
        rd = float(carlson_rd(0.0, 1.0, self.m1))
        bracket = self.m1 * rd / 3 + self.E  # ((1+m)E - m1 K)/m without the difference
        return self.density * self.span * self.max_radius ** 2 * bracket / (3 * self.m1 * self.K)

    @property
    def kinetic_energy(self) -> float:
        """I w^2 / 2 (the rope turns rigidly with the rod)."""
        return 0.5 * self.moment_of_inertia * self.omega ** 2

    def _u(self, z):
        z = _reals("z", z)
        if not np.all((z >= -1e-12 * self.span) & (z <= self.span * (1 + 1e-12))):
            raise ValueError(f"`z` must lie in [0, span = {self.span:.6g}], received {z}.")
        return 2 * self.K * z / self.span

    def __call__(self, z: ArrayLike) -> np.ndarray:
        """r(z) for z in [0, span]."""
        return self.max_radius * ellipj(self._u(z), self.m, self.m1)[0]

    def tension(self, z: ArrayLike) -> np.ndarray:
        """Tension T(z) = rho w^2 d^2 (2 dn^2 - m1) / (4 m1^2 K^2) along the rope."""
        dn = ellipj(self._u(z), self.m, self.m1)[2]
        return self._unit_tension * (2 * dn * dn - self.m1)

    def sample(self, n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """(z, r) at n points equally spaced along the axis, n an integer in [2, 10^6]: a million
        points resolve the curve beyond any figure (10^7 would take ~1 GB and seconds)."""
        z = np.linspace(0.0, self.span, _integer("n", n, 2, 10 ** 6, " (finer adds nothing)"))
        return z, self(z)

    def arc_length(self, z: ArrayLike) -> np.ndarray:
        """Arc length s(z) = d/(2K) (2 E(am u | m)/m1 - u) from the end z = 0, u = 2Kz/d.

        ds/dz = T/H = (2 dn^2 - m1)/m1 integrated; `ellipeinc` has positive terms only.
        """
        u = self._u(z)
        sn, cn, _ = ellipj(u, self.m, self.m1)
        amplitude = np.arctan2(np.abs(sn), cn)  # am u in [0, pi] for u in [0, 2K]
        return self.span / (2 * self.K) * (2 * ellipeinc(amplitude, self.m, self.m1) / self.m1 - u)


def _loads(span, omega, density) -> tuple[float, float, float]:
    """Checked span, omega and density; their unit of force rho w^2 d^2 must be finite."""
    span, omega, density = (_real(k, v) for k, v in
                            (("span", span), ("omega", omega), ("density", density)))
    if not math.isfinite(density * omega * omega * span * span):
        raise ValueError(f"`omega` must keep the loads density * (omega * span)^2 finite, "
                         f"received omega={omega!r} (span={span!r}, density={density!r}).")
    return span, omega, density


def _length(length, span: float) -> float:
    length = _real("length", length)
    if not length > span:
        raise ValueError(f"`length` must be a finite number > span = {span!r} (a rope no longer "
                         f"than the distance between its ends cannot whirl), received {length!r}.")
    return length


def troposkein(length: float, span: float, omega: float = 1.0, density: float = 1.0
               ) -> Troposkein:
    """The `Troposkein` of a rope of `length` spinning about the axis through its ends.

    Solves L/d = 1 + 2 D(m)/(m1 K(m)), with D = E - m1 K free of cancellation, for m.

    Args:
        length: rope length L (> span); span: distance d between the ends on the axis.
        omega: angular speed (rad/s), only scales the loads; density: mass per unit length.

    Raises:
        ValueError/TypeError: non-positive, non-finite or non-numeric arguments; length <= span.
    """
    span, omega, density = _loads(span, omega, density)
    length = _length(length, span)
    excess = (length - span) / span
    m, m1 = _solve_logit(_log_excess, math.log(excess), math.log(excess),
                         f"`length`/`span` = {length / span!r}")
    k, d = _agm(m, m1)
    return Troposkein(length, span, omega, density, m, m1, k, d + m1 * k)


def troposkein_from_radius(radius: float, span: float, omega: float = 1.0,
                           density: float = 1.0) -> Troposkein:
    """The inverse problem: the troposkein with a given maximum radius R (and its length).

    Solves R/d = sqrt(m)/(m1 K(m)) for m; the returned object's `length` is the answer.
    """
    radius = _real("radius", radius)
    span, omega, density = _loads(span, omega, density)
    ratio = radius / span
    start = 2 * math.log(ratio * math.pi / 2) if ratio < 0.5 else math.log(ratio)
    m, m1 = _solve_logit(_log_radius, math.log(ratio), start, f"`radius`/`span` = {ratio!r}")
    k, d = _agm(m, m1)
    length = span * (1 + 2 * d / (m1 * k))
    return Troposkein(length, span, omega, density, m, m1, k, d + m1 * k)


# ----------------------------------------------------------------------------- ODE helper

def _rk4_step(rhs, s: float, y: np.ndarray, h: float) -> np.ndarray:
    k1 = rhs(s, y)
    k2 = rhs(s + h / 2, y + h / 2 * k1)
    k3 = rhs(s + h / 2, y + h / 2 * k2)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + rhs(s + h, y + h * k3))


def _integrate(rhs, y0, s_end: float, tol: float, samples: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive Runge-Kutta 4 with step doubling and local extrapolation (fifth order).

    One step of h and two of h/2 differ by ~15x the error of the latter; a step is kept when
    that estimate is below tol * (1 + max |y|). Steps shrink where the tension nearly vanishes
    (near the end of the gravity branch, at a hanging rope's free end) and grow elsewhere.
    Returns the accepted grid s (at least `samples` steps) and the states at s.
    """
    s, y, h = 0.0, np.asarray(y0, dtype=float), s_end / 32
    grid, path = [0.0], [y]
    while s_end - s > 1e-14 * s_end:
        h = min(h, s_end - s, s_end / max(samples, 1))
        full = _rk4_step(rhs, s, y, h)
        half = _rk4_step(rhs, s + h / 2, _rk4_step(rhs, s, y, h / 2), h / 2)
        error = np.max(np.abs(half - full)) / 15
        scale = tol * (1 + np.max(np.abs(y)))
        if error <= scale:
            s, y = s + h, half + (half - full) / 15
            grid.append(s)
            path.append(y)
        elif h < 1e-12 * s_end:
            raise ArithmeticError("step size underflow")
        h *= min(4.0, max(0.2, 0.9 * (scale / max(error, 1e-300)) ** 0.2))
    grid[-1] = s_end
    return np.array(grid), np.array(path)


# ----------------------------------------------------------------------------- case 2: gravity

def collapse_gamma(length: float, span: float) -> float:
    """End of the whirling branch with gravity along the rod: Gamma_c = 2 (L/d + 1) / j_(0,1)^2,
    where the upper strand, of length (L + d)/2, reaches Kolodner's first critical speed. The
    amplitude decays like exp(-c / (Gamma_c - Gamma)): it is invisible somewhat before."""
    span = _real("span", span)
    return 2 * (_length(length, span) / span + 1) / float(j0_zeros(1)[0]) ** 2


def _gravity_rhs(gamma: float, v0: float):
    """Arc-length equations in units of d and rho w^2 d^2, with sensitivities to (h0, v0).

    State: x, Tx, y, then d(x, Tx, y)/dh0 and d(x, Tx, y)/dv0. Tx' = -x (centrifugal),
    Ty = v0 + Gamma s (gravity, exact), x' = Tx/T, y' = Ty/T.
    """
    def rhs(s, state):
        x, tx, _, xh, txh, _, xv, txv, _ = state
        ty = v0 + gamma * s
        t2 = tx * tx + ty * ty
        t = math.sqrt(t2)
        a, b, c = ty * ty / (t * t2), -tx * ty / (t * t2), tx * tx / (t * t2)
        return np.array([tx / t, -x, ty / t, a * txh, -xh, b * txh,
                         a * txv + b, -xv, b * txv + c])
    return rhs


def _shoot(p, gamma: float, ell: float, tol: float, samples: int = 0):
    start = np.array([0.0, p[0], 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    return _integrate(_gravity_rhs(gamma, p[1]), start, ell, tol, samples)


def _newton_gravity(p, gamma: float, ell: float, tol: float):
    """Newton on x(L) = 0, y(L) = 1: (p, largest x), or None if it stalls or leaves the branch."""
    previous = np.inf
    for iteration in range(12):  # from a continuation guess Newton needs 3-6 steps
        if p[0] <= 0:  # the rope would leave the lower end inwards: off the branch
            return None
        try:
            path = _shoot(p, gamma, ell, tol)[1]
        except ArithmeticError:
            return None
        end = path[-1]
        residual = np.array([end[0], end[2] - 1.0])
        size = np.max(np.abs(residual))
        if not np.isfinite(size) or (iteration > 3 and size > 0.5 * previous):
            return None
        if size < 1e-13:
            return p, float(np.max(path[:, 0]))
        jac = np.array([[end[3], end[6]], [end[5], end[8]]])
        p, previous = p - np.linalg.solve(jac, residual), size
    return None


@dataclass(frozen=True)
class GravityRope:
    """A whirling rope with gravity along the rod: lower end at z = 0, upper end at z = span.

    Arrays run along the rope from the lower end: arc length s, radius r, height z, tension.
    """

    length: float
    span: float
    omega: float
    g: float
    density: float
    gamma: float
    s: np.ndarray
    r: np.ndarray
    z: np.ndarray
    tension: np.ndarray
    lower_end_force: tuple  # (horizontal, vertical) tension components at the lower end

    @property
    def vertical_end_forces(self) -> tuple[float, float]:
        """Vertical tension components T dz/ds at the (lower, upper) end; they differ by rho g L."""
        vertical = self.lower_end_force[1]
        return vertical, vertical + self.density * self.g * self.length

    @property
    def max_radius(self) -> float:
        """Largest radius, from the parabola through the three samples around the maximum."""
        i = int(np.clip(np.argmax(self.r), 1, len(self.r) - 2))
        a, b, c = np.polyfit(self.s[i - 1:i + 2] - self.s[i], self.r[i - 1:i + 2], 2)
        return float(c - b * b / (4 * a))


def rope_with_gravity(length: float, span: float, omega: float, g: float = 9.81,
                      density: float = 1.0, tol: float = 1e-12) -> GravityRope:
    """The `GravityRope` with gravity along the rod, by continuation from the troposkein.

    Shooting from the lower end: the unknown end forces (h0, v0) are corrected by Newton's
    method (exact Jacobian from the sensitivity equations) on x(L) = 0, y(L) = d, while
    Gamma = g/(omega^2 d) is raised from 0 in adaptive steps.

    Args:
        length, span: rope length L > d and distance d of the ends, lower end below.
        omega: angular speed; g: gravity (>= 0); density: mass per unit length.
        tol: local error tolerance of the adaptive Runge-Kutta integration.

    Raises:
        ValueError: bad arguments; L/d > 200; Gamma >= collapse_gamma (no equilibrium on
            the branch); or Gamma so close to it that the whirl is below the solver's resolution.
    """
    base = troposkein(length, span, omega, density)
    length, span, omega, density = base.length, base.span, base.omega, base.density
    g = _real("g", g, closed=True)
    tol = _real("tol", tol, 1e-15, 1e-9, closed=True)  # 1e-15: RK steps underflow; 1e-9: the check
    # tested to L/d = 250; at 300 Newton no longer converges
    _real("length", length, span, 200 * span, why=" with gravity (longer, shooting loses digits)")
    gamma, ell, end = g / omega / omega / span, length / span, collapse_gamma(length, span)
    if gamma >= end:
        raise ValueError(f"no whirling equilibrium: Gamma = g/(omega^2 span) = {gamma:.6g} is "
                         f"at or past the branch end Gamma_c = {end:.6g} for L/d = {ell:.6g}; "
                         f"raise `omega` above {math.sqrt(g / (end * span)):.6g}.")
    unit = 4 * base.m1 * base.K ** 2  # troposkein end forces in units of rho w^2 d^2
    p = np.array([2 * math.sqrt(base.m) / (base.m1 * unit), 1 / unit])
    done, step, amplitude, slope = 0.0, gamma, 1.0, np.zeros(2)
    floor = 1e-4 * min(1.0, base.max_radius / span)  # a whirl this small (vs the troposkein's)
    while done < gamma and step >= 1e-4 * gamma and amplitude > floor:
        trial = min(gamma, done + step)
        found = _newton_gravity(p + (trial - done) * slope, trial, ell, tol)  # secant predictor
        if found is not None:
            slope = (found[0] - p) / (trial - done)
            (p, amplitude), done, step = found, trial, 2 * step
        else:
            step /= 4
    if done == gamma:  # accept only what a 100x tighter integration confirms
        s, path = _shoot(p, gamma, ell, tol, samples=400)
        check = _shoot(p, gamma, ell, tol / 100)[1][-1]
    if done < gamma or max(abs(check[0]), abs(check[2] - 1)) > 1e-9 or amplitude < floor:
        raise ValueError(f"Gamma = g/(omega^2 span) = {gamma:.6g} is too close to the branch end "
                         f"Gamma_c = {end:.6g}: the whirl has nearly collapsed onto the folded "
                         f"hanging rope and cannot be resolved; raise `omega`.")
    scale = density * (omega * span) ** 2  # the unit of force
    tension = scale * np.hypot(path[:, 1], p[1] + gamma * s)
    return GravityRope(length, span, omega, g, density, gamma, s * span, path[:, 0] * span,
                       path[:, 2] * span, tension, (float(p[0] * scale), float(p[1] * scale)))


# ----------------------------------------------------------------------------- case 3: Kolodner

def critical_speeds(length: float, g: float = 9.81, n: int = 3) -> np.ndarray:
    """Kolodner's critical speeds w_k = (j_(0,k)/2) sqrt(g/L), k = 1..n, of a hanging rope.

    Linearised about the vertical, the rope (tension rho g s at height s above the free end)
    obeys (s x')' + (w^2/g) x = 0, whose regular solution is J_0(2 w sqrt(s/g)); the fixed top
    x(L) = 0 picks the zeros of J_0.
    """
    length, g = _real("length", length), _real("g", g)
    rate = _real("g/length", g / length)  # 1e300 / 1e-300: no infinite speeds
    return j0_zeros(n) / 2 * math.sqrt(rate)


def _kolodner_rhs(lam: float, a):
    """Hanging rope in units of L and rho g L, s measured up from the free end, lam = w^2 L/g.

    x' = eta/T, eta' = -lam x, z' = s/T, T = sqrt(eta^2 + s^2) (eta: horizontal tension).
    The state holds x/a and eta/a, a the free end's offset, so tiny whirls keep their digits.
    """
    def rhs(s, state):
        x, eta, _ = state
        if s == 0.0:  # free end: T = 0; the limit of eta/T with eta ~ -lam x s
            root = np.sqrt(1 + (lam * a * x) ** 2)
            return np.array([-lam * x / root, -lam * x, 1 / root])
        t = np.sqrt((a * eta) ** 2 + s * s)
        return np.array([eta / t, -lam * x, s / t])
    return rhs


def _kolodner_paths(amplitude, lam: float, tol: float, samples: int = 0):
    """Integrate from the free end at offsets `amplitude`; states (points, 3, batch), unscaled."""
    a = np.atleast_1d(np.asarray(amplitude, dtype=float))
    start = np.stack([np.ones_like(a), np.zeros_like(a), np.zeros_like(a)])
    sigma, path = _integrate(_kolodner_rhs(lam, a), start, 1.0, tol, samples)
    return sigma, path * np.stack([a, a, np.ones_like(a)])


def _mode_bracket(mode: int, lam: float):
    """Free-end offsets (lo, hi) around the one where the shape has mode - 1 axis crossings.

    As the offset a grows, the sign changes of x along the rope fall one at a time, each time
    x(top; a) passes zero. A scan over a brackets the change from `mode` to mode - 1, on a finer
    grid where neighbours skip it (fast ropes). Returns None if no such change is found.
    """
    grid = np.concatenate([np.geomspace(1e-8, 1e-2, 30), np.linspace(0.011, 0.989, 140),
                           1 - np.geomspace(1e-2, 1e-13, 30)])  # mode 1 nears a = 1 when fast
    found = 0
    for _ in range(8):
        x = np.sign(_kolodner_paths(grid, lam, 1e-8)[1][:, 0])  # (points, batch)
        changes = np.sum(x[1:] * x[:-1] < 0, axis=0)
        before, after = changes[:-1], changes[1:]
        exact = np.nonzero((before == mode) & (after == mode - 1))[0]
        skipped = exact if len(exact) else np.nonzero((before >= mode) & (after < mode))[0]
        if len(skipped) == 0:
            break
        found += len(exact) > 0
        grid = np.linspace(grid[skipped[0]], grid[skipped[0] + 1], 16)
        if found == 3:  # two more rounds narrow the bracket 17^2-fold for the final solver
            return grid[0], grid[-1]
    return None


@dataclass(frozen=True)
class WhirlingMode:
    """Whirling mode of a heavy rope hanging from the rod, lower end free (Kolodner 1955).

    Arrays run from the suspension point down: arc length s, signed distance r from the axis
    (in the rope's rotating plane), depth below the suspension point.
    """

    length: float
    omega: float
    g: float
    density: float
    mode: int
    s: np.ndarray
    r: np.ndarray
    depth: np.ndarray
    top_tension: float


def whirling_mode(length: float, omega: float, g: float = 9.81, mode: int = 1,
                  density: float = 1.0, tol: float = 1e-12) -> WhirlingMode:
    """The `WhirlingMode` number `mode` of a heavy rope hanging from the spinning rod.

    Shooting from the free end on its offset a: `_mode_bracket`, then the Illinois method.

    Args:
        length: rope length; omega: angular speed, above critical_speeds(...)[mode - 1];
        g: gravity; mode: 1, 2, ...; density: mass per unit length; tol: as in rope_with_gravity.

    Raises:
        ValueError: bad arguments, mode outside [1, 20], omega at or below the mode's critical
            speed or above 1000 sqrt(g/length).
    """
    length, g, density = _real("length", length), _real("g", g), _real("density", density)
    tol = _real("tol", tol, 1e-15, 1e-6, closed=True)  # below 1e-15 the RK steps underflow
    mode = _integer("mode", mode, 1, 20, " (each adds a wave the integrator must resolve)")
    critical = float(critical_speeds(length, g, mode)[-1])
    # at omega^2 L/g = 1e6 mode 1 lies flat to 1e-12; faster, the work grows like omega
    omega = _real("omega", omega, critical * (1 + 1e-9), 1000 * math.sqrt(g / length),
                  why=f" rad/s: above the critical speed of mode {mode} (slower, the rope hangs "
                  f"on the axis), at most 1000 sqrt(g/length)")
    lam = omega * omega * length / g
    bracket = _mode_bracket(mode, lam)
    if bracket is None:
        raise ValueError(f"no whirling mode {mode} found for omega={omega!r} (scan failed).")
    lo, hi = bracket
    f_lo, f_hi = (_kolodner_paths(v, lam, tol)[1][-1, 0, 0] for v in (lo, hi))
    for _ in range(100):  # Illinois variant of regula falsi: the root stays in [lo, hi]
        mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        f_mid = _kolodner_paths(mid, lam, tol)[1][-1, 0, 0]
        if f_mid * f_hi < 0:
            lo, f_lo = hi, f_hi
        else:
            f_lo /= 2
        hi, f_hi = mid, f_mid
        if abs(hi - lo) <= 64 * _EPS * hi or f_mid == 0:  # below the integration error
            break
    sigma, path = _kolodner_paths(hi, lam, tol, samples=400)
    s, path = (1 - sigma[::-1]) * length, path[::-1, :, 0]  # from the top down
    top_tension = density * g * length * math.hypot(path[0, 1], 1.0)
    return WhirlingMode(length, omega, g, density, mode, s, path[:, 0] * length,
                        (path[0, 2] - path[:, 2]) * length, top_tension)


# ----------------------------------------------------------------------------- figures and CLI

def _figure_class():
    """matplotlib's Figure (no pyplot, no backend switch), or an error saying what to install."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ModuleNotFoundError("figures need matplotlib: pip install matplotlib") from err
    return Figure


def _png_path(path, name: str = "`path`") -> Path:
    """`path` as a .png file (or a symlink to a file) in an existing folder; and matplotlib."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or path, received {type(path).__name__}.")
    path, target = Path(path), Path(os.path.realpath(path))
    if (path.suffix.lower() != ".png" or (target.exists() and not target.is_file())
            or not target.parent.is_dir()):
        raise ValueError(f"{name} must name a .png file in an existing folder, received "
                         f"{str(path)!r}.")
    _figure_class()
    return path


def plot_curves(curves, path: str | Path, title: str = "", vertical: str = "z") -> Path:
    """Draw ropes, each beside its dashed mirror image, to a PNG file; returns the path.

    The mirror is the same rope half a turn later, so the pair outlines the surface the rope
    sweeps. The file is written as open() would (through a symlink; a new file 0o666 less the
    umask, a replaced one keeps its mode), but whole or not at all (a temporary file, renamed).

    Args:
        curves: iterable of (r, z, label), r and z 1-d arrays of one length.
        path: output .png file in an existing folder.
        title: figure title; vertical: label of the vertical axis. Text is drawn as given,
            "$" included (escaped, not read as matplotlib's mathtext).

    Raises:
        ModuleNotFoundError: matplotlib is not installed. ValueError: a bad `path` or curve.
    """
    path = _png_path(path)
    curves = [(_reals("r", r), _reals("z", z), str(label)) for r, z, label in curves]
    if any(r.ndim != 1 or r.shape != z.shape for r, z, _ in curves):
        raise ValueError("`curves` must hold (r, z, label) with r and z 1-d arrays of one "
                         f"length, received shapes {[(r.shape, z.shape) for r, z, _ in curves]}.")
    fig = _figure_class()(figsize=(6, 6), dpi=100)
    ax = fig.add_subplot()
    for r, z, label in curves:
        (line,) = ax.plot(r, z, label=label.replace("$", r"\$"))
        ax.plot(-r, z, "--", color=line.get_color(), alpha=0.4)
    ax.axvline(0.0, color="k", lw=0.8)
    ax.set_aspect("equal")
    ax.set(xlabel="distance from the axis", ylabel=str(vertical).replace("$", r"\$"),
           title=str(title).replace("$", r"\$"))
    ax.legend(fontsize=8)
    target = Path(os.path.realpath(path))  # a symlink's target; the link stays
    mode = target.stat().st_mode & 0o7777 if target.exists() else None
    partial = target.with_name(f".{target.name}.{os.urandom(6).hex()}.partial")
    try:  # O_EXCL: a new file, not a link planted under that name (a plain open would follow it)
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            fig.savefig(f, format="png")
        if mode is not None:
            os.chmod(partial, mode)
        os.replace(partial, target)
    except OSError as err:
        raise OSError(f"cannot write {str(path)!r}: {err.strerror or err}") from err
    finally:
        partial.unlink(missing_ok=True)
    return path


def _demo(out=None) -> list[str]:
    """The default run: the three cases, a line on each, and with `out` a figure of each.

    Everything is checked and computed before `out` is created; if a figure cannot be written,
    the files already written (and the folder, if this run made it) are removed.
    """
    if out is not None:  # "" would be the current folder; a parent may be missing
        existing = next((p for p in (Path(out), *Path(out).parents) if p.exists()), None)
        if not str(out).strip() or existing is None or not existing.is_dir() or not os.access(
                existing, os.W_OK | os.X_OK):
            raise ValueError(f"--out must name a folder that exists or can be made in a "
                             f"writable one, received {str(out)!r}.")
        out = Path(out)
        _figure_class()
    shapes = [(*troposkein(r, 1.0).sample(400)[::-1], f"L/d = {r:g}") for r in (1.2, 1.5, 2, 3)]
    family = [(rope.r, rope.z, f"Gamma = {rope.gamma:g}") for rope in (
        rope_with_gravity(2.0, 1.0, 1.0, g=gamma, tol=1e-9) for gamma in (0, 0.2, 0.4, 0.6, 0.8))]
    speeds = critical_speeds(1.0, 9.81, 3)
    modes = [whirling_mode(1.0, 1.1 * speeds[-1], 9.81, k, tol=1e-9) for k in (1, 2, 3)]
    figures = {
        "troposkein.png": (shapes, "Troposkein, no gravity (d = 1)", "z"),
        "gravity.png": (family, f"L/d = 2 with gravity (collapse at Gamma_c = "
                                f"{collapse_gamma(2.0, 1.0):.4f})", "z"),
        "hanging.png": ([(w.r, -w.depth, f"mode {w.mode}") for w in modes],
                        f"Hanging rope, L = 1 m, omega = {1.1 * speeds[-1]:.3f} rad/s",
                        "height from the top")}
    lines = [f"{name}: {title}\n    largest |r|: " + ", ".join(
        f"{label}: {np.max(np.abs(r)):.5f}" for r, _, label in curves)
        for name, (curves, title, _) in figures.items()]
    lines.append("Kolodner's critical speeds of the 1 m hanging rope (g = 9.81), rad/s: "
                 + ", ".join(f"{w:.5f}" for w in speeds))
    if out is None:
        return lines + ["give --out FOLDER to draw these figures"]
    made, written = not out.exists(), []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, (curves, title, vertical) in figures.items():
            written.append(plot_curves(curves, out / name, title, vertical))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    return lines + [f"figures written to {out}/"]


def main(argv=None) -> None:
    """Command line: one rope's key numbers (--length ...), or the demo (figures with --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option, meaning in [("length", "rope length L (with --span)"),
                            ("span", "distance d of the ends (default 1)"),
                            ("omega", "angular speed, rad/s (default 1)"),
                            ("density", "mass per unit length (default 1)"),
                            ("g", "gravity along the rod, case 2 (default 0)")]:
        parser.add_argument(f"--{option}", type=float, help=meaning)
    parser.add_argument("--png", help="draw this rope to a PNG file")
    parser.add_argument("--out", help="folder for the demo figures")
    args = parser.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None}
    if args.length is None and set(given) - {"out"}:
        parser.error(f"{', '.join('--' + k for k in given)}: options of one rope, give --length.")
    if args.length is not None and args.out is not None:
        parser.error("--out is for the demo (no --length); draw one rope with --png.")
    try:
        if args.length is None:
            print("\n".join(_demo(args.out)))
            return
        if args.png is not None:  # checked before the work, as the demo checks --out
            _png_path(args.png, "--png")
        given = {"span": 1.0, "omega": 1.0, "density": 1.0, "g": 0.0} | given
        length, span, g = args.length, given["span"], given["g"]
        t = troposkein(length, span, given["omega"], given["density"])
        rope = rope_with_gravity(length, span, t.omega, g, t.density) if g != 0 else None
        print("troposkein: " + ", ".join(f"{name} = {getattr(t, name):.12g}" for name in (
            "m", "m1", "max_radius", "end_angle_deg", "axial_force", "end_tension",
            "moment_of_inertia", "kinetic_energy")))
        curves = [(*t.sample(400)[::-1], "troposkein")]
        if rope is not None:
            print(f"with gravity: Gamma = {rope.gamma:.6g} (collapse at "
                  f"{collapse_gamma(length, span):.6g}), max_radius = {rope.max_radius:.12g}, "
                  f"tension at the bottom / top = {rope.tension[0]:.12g} / {rope.tension[-1]:.12g}")
            curves.append((rope.r, rope.z, f"g = {g:g}"))
        if args.png is not None:
            print(f"wrote {plot_curves(curves, args.png, f'L = {length:g}, d = {span:g}')}")
    except (ImportError, OSError, TypeError, ValueError) as err:
        parser.error(str(err))


if __name__ == "__main__":
    main()
