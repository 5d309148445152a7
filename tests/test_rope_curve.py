"""Tests for rope_curve.py against mpmath, scipy and independent solvers written here."""

import math
import os
import subprocess
import sys
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from scipy.integrate import solve_bvp, solve_ivp
from scipy.optimize import brentq, fsolve
from scipy.special import j0, jn_zeros

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the library, ahead of the benchmark bench/rope_curve.py
from conftest import run_copied  # noqa: E402

import rope_curve as rc  # noqa: E402

assert Path(rc.__file__).parent == REPO, rc.__file__
mp.mp.dps = 40
J01 = 2.404825557695772768621631879  # first zero of J0 (DLMF table 10.21.1)

# m1 = 1 - m values from a round rope down to m1 = 1e-15 (passed separately, as in the file)
M1_VALUES = [1.0, 1 - 1e-12, 1 - 1e-6, 0.9, 0.5, 0.1, 1e-3, 1e-6, 1e-9, 1e-12, 1e-15]


def _m(m1):
    """(float m, float m1, mpf m) with m taken as exactly 1 - m1 in high precision."""
    m_mp = 1 - mp.mpf(m1)
    return float(m_mp), m1, m_mp


# ----------------------------------------------------------------------------- special functions


@pytest.mark.parametrize("m1", M1_VALUES)
def test_complete_integrals_match_mpmath(m1):
    m, m1, m_mp = _m(m1)
    np.testing.assert_allclose(rc.ellipk(m, m1), float(mp.ellipk(m_mp)), rtol=1e-15)
    np.testing.assert_allclose(rc.ellipe(m, m1), float(mp.ellipe(m_mp)), rtol=1e-15)
    # D = E - m1 K, the quantity behind L/d - 1: no cancellation for a nearly straight rope
    d_ref = float(mp.ellipe(m_mp) - mp.mpf(m1) * mp.ellipk(m_mp))
    np.testing.assert_allclose(rc._agm(m, m1)[1], d_ref, rtol=1e-15)
    # the array path (several m at once) gives the same digits
    both = rc._agm(np.array([m, 0.3]), np.array([m1, 0.7]))[1]
    np.testing.assert_allclose(both[0], d_ref, rtol=1e-15)


@pytest.mark.parametrize("m", [0.0, 1e-300, 1e-20, 1e-8, 1e-3])
def test_complete_integrals_near_m_zero(m):
    m_mp = mp.mpf(m)
    np.testing.assert_allclose(rc.ellipk(m), float(mp.ellipk(m_mp)), rtol=1e-15)
    np.testing.assert_allclose(rc.ellipe(m), float(mp.ellipe(m_mp)), rtol=1e-15)
    with mp.workdps(400):  # D = E - m1 K ~ pi m / 4; 1 - 1e-300 needs 300+ digits
        d_ref = float(mp.ellipe(m_mp) - (1 - m_mp) * mp.ellipk(m_mp))
    np.testing.assert_allclose(rc._agm(m, 1.0 - m)[1], d_ref, rtol=1e-15, atol=1e-320)


def test_jacobi_functions_keep_their_digits_at_m1_1e300():
    m1 = 1e-300
    with mp.workdps(700):  # m = 1 - 1e-300 needs 300+ digits to be told from 1
        m_mp = 1 - mp.mpf(m1)
        for u in (0.5, 3.0, 30.0):
            sn, cn, dn = rc.ellipj(u, 1.0, m1)
            for got, name in zip((sn, cn, dn), ("sn", "cn", "dn"), strict=True):
                want = float(mp.ellipfun(name, mp.mpf(u), m=m_mp))
                assert abs(got - want) <= 1e-12 * abs(want), (name, u)


@pytest.mark.parametrize("m1", [0.999, 0.5, 1e-4, 1e-12])
def test_length_excess_equals_the_carlson_form(m1):
    """D = E - m1 K = (m m1 / 3) R_D(0, 1, m1) (DLMF 19.25.1): AGM against duplication."""
    m = 1 - m1
    np.testing.assert_allclose(rc._agm(m, m1)[1], m * m1 * rc.carlson_rd(0.0, 1.0, m1) / 3,
                               rtol=2e-15)


def test_complete_integrals_at_m_one_and_on_arrays():
    assert np.isinf(rc.ellipk(1.0)) and rc.ellipe(1.0) == 1.0
    m = np.linspace(0.0, 0.99, 7)
    np.testing.assert_allclose(rc.ellipk(m), [float(mp.ellipk(v)) for v in m], rtol=1e-14)


@pytest.mark.parametrize("m1", [1.0, 0.7, 0.3, 1e-3, 1e-9, 1e-15])
def test_jacobi_functions_match_mpmath(m1):
    m, m1, m_mp = _m(m1)
    k = float(mp.ellipk(m_mp))
    # points away from the zeros of sn and cn, including u > K where scipy fails near m = 1
    u = np.array([1e-3, 0.1, 0.37 * k, 0.81 * k, 1.23 * k, 1.77 * k, 2.6 * k, 3.4 * k, -0.6 * k])
    sn, cn, dn = rc.ellipj(u, m, m1)
    for i, ui in enumerate(u):
        for got, name in zip((sn[i], cn[i], dn[i]), ("sn", "cn", "dn"), strict=True):
            want = float(mp.ellipfun(name, mp.mpf(ui), m=m_mp))
            # cn and dn are ill-conditioned in relative terms far along u when m1 is tiny
            # (d ln cn / du ~ 1): allow the conditioning |u| times a few ulp on top of 1e-13
            assert abs(got - want) <= (1e-13 + 8e-16 * abs(ui)) * abs(want), (name, ui)


def test_dn_at_quarter_period_has_no_zero_over_zero():
    for m1 in (1e-3, 1e-9, 1e-15):
        m, m1, m_mp = _m(m1)
        sn, cn, dn = rc.ellipj(float(mp.ellipk(m_mp)), m, m1)
        np.testing.assert_allclose(dn, math.sqrt(m1), rtol=1e-13)
        np.testing.assert_allclose(sn, 1.0, rtol=1e-15)


def test_jacobi_functions_match_scipy_where_scipy_is_accurate():
    from scipy.special import ellipj

    u = np.linspace(-7.0, 7.0, 301)
    for m in (0.0, 0.2, 0.5, 0.9):
        ours, theirs = rc.ellipj(u, m), ellipj(u, m)
        for a, b in zip(ours, theirs[:3], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    sn, cn, dn = rc.ellipj(2.0, 1.0)  # m = 1: tanh and sech
    np.testing.assert_allclose([sn, cn, dn], [math.tanh(2), 1 / math.cosh(2), 1 / math.cosh(2)])


@pytest.mark.parametrize("xyz", [(0.0, 1.0, 2.0), (1.0, 2.0, 3.0), (1e-10, 1.0, 1e-12),
                                 (0.5, 1e-15, 1.0), (0.0, 1e-15, 1.0), (3.0, 3.0, 3.0),
                                 (1e5, 2e-5, 7.0)])
def test_carlson_integrals_match_mpmath(xyz):
    np.testing.assert_allclose(rc.carlson_rf(*xyz), float(mp.elliprf(*xyz)), rtol=1e-14)
    np.testing.assert_allclose(rc.carlson_rd(*xyz), float(mp.elliprd(*xyz)), rtol=1e-14)


@pytest.mark.parametrize("m1", [0.8, 0.2, 1e-3, 1e-9, 1e-15])
def test_incomplete_integral_matches_mpmath(m1):
    m, m1, m_mp = _m(m1)
    phi = np.array([0.01, 0.3, 1.2, 1.5707, 2.5, 7.0, -4.0])
    e = rc.ellipeinc(phi, m, m1)
    np.testing.assert_allclose(e, [float(mp.ellipe(p, m_mp)) for p in phi], rtol=1e-14)


def test_incomplete_integral_at_m_one():
    phi = np.array([0.4, np.pi / 2, 2.0])
    np.testing.assert_allclose(rc.ellipeinc(phi[:2], 1.0), np.sin(phi[:2]), rtol=1e-15)


def test_j0_zeros_and_critical_speeds_match_scipy():
    np.testing.assert_allclose(rc.j0_zeros(300), jn_zeros(0, 300), rtol=1e-14)
    np.testing.assert_allclose(rc.j0_zeros(1)[0], J01, rtol=1e-15)
    speeds = rc.critical_speeds(2.5, 9.81, 6)
    np.testing.assert_allclose(speeds, jn_zeros(0, 6) / 2 * np.sqrt(9.81 / 2.5), rtol=1e-10)


# ----------------------------------------------------------------------------- troposkein


def _length_ratio_mp(m_mp):
    """L/d from the closed form, in 40-digit arithmetic."""
    return 2 * mp.ellipe(m_mp) / ((1 - m_mp) * mp.ellipk(m_mp)) - 1


@pytest.mark.parametrize("excess", [1e-12, 1e-6, 0.01, 0.5, 2.0, 1e3, 1e10])
def test_troposkein_solves_the_length_relation(excess):
    """L/d - 1 from the returned m, recomputed by mpmath, matches the request to 1e-13."""
    rope = rc.troposkein(1.0 + excess, 1.0)
    excess = rope.length - 1.0  # 1 + excess is rounded; this difference is exact
    m_mp = mp.mpf(rope.m) if rope.m < 0.5 else 1 - mp.mpf(rope.m1)
    got = float(_length_ratio_mp(m_mp) - 1)
    np.testing.assert_allclose(got, excess, rtol=1e-13)


def _sample_by_arc_length(rope, n):
    """(s, z, r) at n points equally spaced along the rope, from the public s(z), T(z), H.

    z(s) by Newton's method (ds/dz = T/H > 0) from interpolation in a table of s(z).
    """
    s = np.linspace(0.0, rope.length, n)
    table = np.linspace(0.0, rope.span, 257)
    z = np.interp(s, rope.arc_length(table), table)
    for _ in range(30):
        step = (rope.arc_length(z) - s) * rope.axial_force / rope.tension(z)
        z = np.clip(z - step, 0.0, rope.span)
        if np.max(np.abs(step)) <= 1e-15 * rope.span:
            break
    return s, z, rope(z)


def _bvp_troposkein(length, span):
    """Independent solution: arc-length equations, unit rho w^2, axial force H a parameter.

    x' = Tx/T, z' = H/T, Tx' = -x, T = sqrt(Tx^2 + H^2); x = 0 at both ends, z from 0 to d.
    Started from a half-ellipse, not from anything computed by rope_curve.
    """
    s = np.linspace(0, length, 401)
    phase = np.pi * s / length
    guess = np.vstack([0.4 * length * np.sin(phase), span * s / length,
                       0.2 * np.cos(phase)])

    def fun(_, y, p):
        t = np.hypot(y[2], p[0])
        return np.vstack([y[2] / t, p[0] / t, -y[0]])

    def bc(ya, yb, p):
        return np.array([ya[0], ya[1], yb[0], yb[1] - span])

    sol = solve_bvp(fun, bc, s, guess, p=[0.1], tol=1e-10, max_nodes=200000)
    assert sol.success
    return sol


@pytest.mark.parametrize("length,span", [(1.5, 1.0), (3.0, 2.0), (4.0, 1.0)])
def test_troposkein_matches_solve_bvp(length, span):
    rope = rc.troposkein(length, span, omega=1.0, density=1.0)
    sol = _bvp_troposkein(length, span)
    s, z, r = _sample_by_arc_length(rope, 201)
    x_ref, z_ref, tx_ref = sol.sol(s)
    np.testing.assert_allclose(r, x_ref, atol=1e-7 * length)
    np.testing.assert_allclose(z, z_ref, atol=1e-7 * length)
    h = sol.p[0]
    np.testing.assert_allclose(rope.axial_force, h, rtol=1e-7)
    np.testing.assert_allclose(rope.end_tension, math.hypot(tx_ref[0], h), rtol=1e-7)
    np.testing.assert_allclose(rope.tension(z), np.hypot(tx_ref, h), rtol=1e-6)
    np.testing.assert_allclose(math.radians(rope.end_angle_deg), math.atan2(tx_ref[0], h),
                               rtol=1e-7)
    np.testing.assert_allclose(rope.max_radius, np.max(sol.sol(np.linspace(0, length, 20001))[0]),
                               rtol=1e-7)
    fine = np.linspace(0, length, 40001)
    inertia = np.trapezoid(sol.sol(fine)[0] ** 2, fine)
    np.testing.assert_allclose(rope.moment_of_inertia, inertia, rtol=1e-7)
    np.testing.assert_allclose(rope.kinetic_energy, 0.5 * inertia, rtol=1e-7)


def _polyline_length(rope, n):
    z, r = rope.sample(n)
    return np.sum(np.hypot(np.diff(z), np.diff(r)))


@pytest.mark.parametrize("length", [1.01, 2.0, 6.0])
def test_arc_length_equals_length(length):
    rope = rc.troposkein(length, 1.0)
    # chord-polygon length, error O(h^2): one Richardson step
    coarse, fine = _polyline_length(rope, 20001), _polyline_length(rope, 40001)
    np.testing.assert_allclose((4 * fine - coarse) / 3, length, rtol=1e-9)
    half = rc.troposkein(length, 1.0)
    z = np.linspace(0.0, 0.5, 20001)
    chord = np.sum(np.hypot(np.diff(z), np.diff(half(z))))
    np.testing.assert_allclose(half.arc_length(0.5), chord, rtol=1e-8)
    s, z, _ = _sample_by_arc_length(rope, 101)
    np.testing.assert_allclose(rope.arc_length(z), s, atol=1e-14 * length)
    np.testing.assert_allclose(np.diff(s), length / 100)


@pytest.mark.parametrize("excess", [1e-4, 1e-6, 1e-8])
def test_small_sag_limit(excess):
    rope = rc.troposkein(1.0 + excess, 1.0)
    limit = 2 / np.pi * np.sqrt(excess)
    np.testing.assert_allclose(rope.max_radius, limit, rtol=2 * excess)


def test_shape_does_not_depend_on_omega_and_loads_scale():
    slow, fast = rc.troposkein(2.0, 1.0, 1.0, 1.0), rc.troposkein(2.0, 1.0, 3.0, 2.0)
    z = np.linspace(0, 1, 11)
    np.testing.assert_allclose(slow(z), fast(z), rtol=0, atol=0)
    np.testing.assert_allclose(fast.end_tension, 18 * slow.end_tension, rtol=1e-15)


@pytest.mark.parametrize("length", [1.0001, 1.7, 3.0, 50.0])
def test_inverse_problem_from_max_radius(length):
    rope = rc.troposkein(2 * length, 2.0)
    back = rc.troposkein_from_radius(rope.max_radius, 2.0)
    np.testing.assert_allclose(back.length, 2 * length, rtol=1e-13)
    # and against mpmath: solve sqrt(m)/((1-m)K) = R/d independently
    ratio = mp.mpf(rope.max_radius) / 2
    def radius_gap(t):  # in t = ln(m/(1-m)), so that m stays inside (0, 1)
        m = 1 / (1 + mp.exp(-t))
        return mp.sqrt(m) / ((1 - m) * mp.ellipk(m)) - ratio

    t = mp.findroot(radius_gap, mp.log(rope.m / rope.m1))
    m_mp = 1 / (1 + mp.exp(-t))
    np.testing.assert_allclose(back.length, float(2 * _length_ratio_mp(m_mp)), rtol=1e-13)


# ----------------------------------------------------------------------------- gravity


def _scipy_gravity(length, span, gamma, start):
    """Independent shooting with DOP853 and fsolve, units of d and rho w^2 d^2."""
    ell = length / span

    def run(p):
        def f(s, y):
            ty = p[1] + gamma * s
            t = np.hypot(y[1], ty)
            return [y[1] / t, -y[0], ty / t]
        return solve_ivp(f, (0, ell), [0, p[0], 0], method="DOP853", rtol=1e-13, atol=1e-14,
                         dense_output=True)

    def ends(p):
        end = run(p).y[:, -1]
        return [end[0], end[2] - 1]

    p = fsolve(ends, start, xtol=1e-13)
    return p, run(p)


@pytest.mark.parametrize("length,gamma", [(2.0, 0.5), (3.0, 1.0), (1.5, 0.3)])
def test_gravity_invariants_and_second_method(length, gamma):
    span, omega, density = 1.0, 4.0, 0.7
    g = gamma * omega ** 2 * span
    rope = rc.rope_with_gravity(length, span, omega, g=g, density=density)
    scale = density * (omega * span) ** 2
    np.testing.assert_allclose(rope.gamma, gamma, rtol=1e-15)
    # T_top - T_bottom = rho g d and the vertical end forces differ by the weight rho g L
    assert abs(rope.tension[-1] - rope.tension[0] - density * g * span) < 1e-9 * scale
    # the vertical end forces, read off the sampled shape as T dz/ds (dz/ds from a polynomial
    # through the last samples of each end, not from the solver's force components), differ
    # by the weight rho g L and match the reported ones
    def end_slope(end):
        part = slice(0, 9) if end == 0 else slice(-9, None)
        s, z = rope.s[part], rope.z[part]
        coeffs = np.polyfit(s - s[end], z, 6)
        return np.polyval(np.polyder(coeffs), 0.0)
    bottom, top = rope.tension[0] * end_slope(0), rope.tension[-1] * end_slope(-1)
    assert abs(top - bottom - density * g * length) < 1e-9 * scale
    np.testing.assert_allclose([bottom, top], rope.vertical_end_forces, atol=1e-9 * scale)
    # ends where they belong and arc length = L
    assert abs(rope.r[-1]) < 1e-10 and abs(rope.z[-1] - span) < 1e-10
    np.testing.assert_allclose(np.sum(np.hypot(np.diff(rope.r), np.diff(rope.z))), length,
                               rtol=1e-5)
    p, sol = _scipy_gravity(length, span, gamma, [0.3, 0.0])
    np.testing.assert_allclose(np.array(rope.lower_end_force) / scale, p, atol=1e-9)
    ref = sol.sol(rope.s / span)
    np.testing.assert_allclose(rope.r, ref[0] * span, atol=1e-9)
    np.testing.assert_allclose(rope.z, ref[2] * span, atol=1e-9)


def test_gravity_tends_to_troposkein():
    rope = rc.rope_with_gravity(3.0, 1.5, 2.0, g=1e-9)
    tropo = rc.troposkein(3.0, 1.5, 2.0)
    np.testing.assert_allclose(rope.r, tropo(rope.z), atol=1e-9)
    np.testing.assert_allclose(rope.s, tropo.arc_length(rope.z), atol=1e-9)
    np.testing.assert_allclose(rope.tension[0], tropo.end_tension, rtol=1e-9)
    np.testing.assert_allclose(rope.max_radius, tropo.max_radius, rtol=1e-8)


def test_collapse_gamma_is_kolodner_speed_of_upper_strand():
    """The whirl fades like exp(-c/(Gamma_c - Gamma)); fit Gamma_c from an independent solver."""
    ell = 2.0
    start = rc.rope_with_gravity(ell, 1.0, 1.0, g=0.8).lower_end_force  # rho w d = 1
    gammas, amplitude, p = [0.925, 0.935, 0.945], [], start
    for gamma in [0.88] + gammas:  # march towards the end of the branch
        p, sol = _scipy_gravity(ell, 1.0, gamma, p)
        amplitude.append(np.max(sol.sol(np.linspace(0, ell, 4001))[0]))
    amplitude = amplitude[1:]
    assert amplitude[-1] < 1e-4  # the whirl is all but gone, well before Gamma_c
    logs = np.log(amplitude)

    def mismatch(gc):
        slopes = [(logs[i + 1] - logs[i]) / (1 / (gc - gammas[i + 1]) - 1 / (gc - gammas[i]))
                  for i in range(2)]
        return slopes[0] - slopes[1]

    grid = np.linspace(gammas[-1] + 0.01, 1.5, 2000)
    values = np.array([mismatch(v) for v in grid])
    fitted = grid[np.nonzero(np.sign(values[1:]) != np.sign(values[:-1]))[0][0]]
    expected = 2 * (ell + 1) / J01 ** 2
    np.testing.assert_allclose(rc.collapse_gamma(ell, 1.0), expected, rtol=1e-15)
    np.testing.assert_allclose(fitted, expected, rtol=0.005)


def test_gravity_branch_end_errors():
    omega_end = math.sqrt(9.81 / rc.collapse_gamma(2.0, 1.0))
    with pytest.raises(ValueError, match="no whirling equilibrium"):
        rc.rope_with_gravity(2.0, 1.0, omega_end * 0.999)
    with pytest.raises(ValueError, match="too close to the branch end"):
        rc.rope_with_gravity(2.0, 1.0, omega_end * 1.002)


# ----------------------------------------------------------------------------- Kolodner


def _axis_crossings(w):
    """Sign changes of r below the suspension point (round-off near r = 0 ignored)."""
    r = w.r[np.abs(w.r) > 1e-6 * np.max(np.abs(w.r))]
    return int(np.sum(np.sign(r[1:]) != np.sign(r[:-1])))


def test_whirling_modes_cross_the_axis_mode_minus_one_times():
    speeds = rc.critical_speeds(1.0, 9.81, 4)
    omega = 1.15 * speeds[3]
    for mode in (1, 2, 3, 4):
        w = rc.whirling_mode(1.0, omega, 9.81, mode, tol=1e-10)
        assert _axis_crossings(w) == mode - 1
        assert abs(w.r[0]) < 1e-9 and abs(w.depth[0]) == 0.0  # top on the axis (tol 1e-10)
    between = 0.5 * (speeds[1] + speeds[2])  # exactly two modes exist between w_2 and w_3
    assert _axis_crossings(rc.whirling_mode(1.0, between, 9.81, 2, tol=1e-9)) == 1
    with pytest.raises(ValueError, match="critical speed of mode 3"):
        rc.whirling_mode(1.0, between, 9.81, 3)


def _check_whirling_mode(w):
    """Integrate Kolodner's equations with DOP853 from the returned free-end offset."""
    length, g = w.length, w.g
    lam = w.omega ** 2 * length / g

    def f(s, y):
        t = np.hypot(y[1], s) if s > 0 else 1.0
        if s == 0:
            return [-lam * y[0] / np.sqrt(1 + (lam * y[0]) ** 2), -lam * y[0],
                    1 / np.sqrt(1 + (lam * y[0]) ** 2)]
        return [y[1] / t, -lam * y[0], s / t]

    sol = solve_ivp(f, (0, 1), [w.r[-1] / length, 0, 0], method="DOP853",
                    rtol=1e-12, atol=1e-13, dense_output=True)
    assert abs(sol.y[0, -1]) < 1e-8  # the top is on the axis
    ref = sol.sol(1 - w.s / length)
    np.testing.assert_allclose(w.r, ref[0] * length, atol=1e-8)
    np.testing.assert_allclose(w.top_tension, w.density * g * length * np.hypot(sol.y[1, -1], 1),
                               rtol=1e-8)


def test_whirling_mode_against_independent_integration():
    length, g = 2.0, 9.81
    _check_whirling_mode(rc.whirling_mode(length, 1.3 * rc.critical_speeds(length, g, 2)[1], g, 2))


def test_whirling_mode_found_when_the_scan_skips_it():
    """At 4x the 10th critical speed, one step of the scan over the free-end offset spans
    several axis crossings (the scan once reported no mode 10 here)."""
    w = rc.whirling_mode(1.0, 200.0, 9.81, 10, tol=1e-10)
    assert _axis_crossings(w) == 9
    _check_whirling_mode(w)


def test_whirling_mode_at_the_fastest_supported_speed():
    """omega^2 L/g = 1e6: mode 1 lies flat, its free end within ~1e-12 L of L out."""
    omega = 1000 * math.sqrt(9.81)
    w = rc.whirling_mode(1.0, omega, 9.81, 1, tol=1e-10)
    assert _axis_crossings(w) == 0 and 1 - 1e-11 < w.r[-1] < 1.0
    assert abs(w.r[0]) < 1e-9


def test_whirling_mode_refuses_unsupported_speed_and_mode_at_once():
    """Far past the supported speed the work grows like omega (minutes at 1e6 rad/s)."""
    with pytest.raises(ValueError, match="`omega` must be in .* at most 1000 sqrt"):
        rc.whirling_mode(1.0, 1e6)
    with pytest.raises(ValueError, match="`mode` must be an integer in"):
        rc.whirling_mode(1.0, 3000.0, 9.81, 21)


def test_many_j0_zeros_match_brentq():
    """Zeros past the first 40 come from McMahon's series; 10^5 zeros once took O(n^2) memory."""
    zeros = rc.j0_zeros(10 ** 5)
    for k in (1, 40, 41, 1000, 10 ** 5):
        start = (k - 0.25) * np.pi  # j_(0,k) lies in (start, start + 0.1) (DLMF 10.21.19)
        ref = brentq(j0, start, start + 0.1, xtol=1e-15, rtol=1e-15)
        np.testing.assert_allclose(zeros[k - 1], ref, rtol=1e-14)


def test_whirling_mode_small_amplitude_is_bessel_shape():
    length, g = 1.0, 9.81
    omega = rc.critical_speeds(length, g, 2)[1] * (1 + 1e-6)
    w = rc.whirling_mode(length, omega, g, 2)
    sigma = 1 - w.s / length  # height above the free end in units of L
    shape = j0(2 * omega * np.sqrt(sigma * length / g))
    np.testing.assert_allclose(w.r / w.r[-1], shape, atol=1e-4)
    assert w.r[-1] < 1e-2 * length


# ----------------------------------------------------------------------------- errors and CLI


@pytest.mark.parametrize("call,match", [
    (lambda: rc.troposkein(1.0, 1.0), "`length` must be a finite number > span = 1.0"),
    (lambda: rc.troposkein(0.5, 1.0), "`length` must be a finite number > span"),
    (lambda: rc.troposkein(-2.0, 1.0), "`length` must be finite and > 0"),
    (lambda: rc.troposkein(1e20, 1.0), "`length`/`span` = 1e\\+20 is outside the supported"),
    (lambda: rc.troposkein_from_radius(1e-30, 1.0), "`radius`/`span` = 1e-30 is outside"),
    (lambda: rc.troposkein(2.0, float("nan")), "`span` must be finite and > 0"),
    (lambda: rc.troposkein(2.0, 1.0, omega=float("inf")), "`omega` must be finite"),
    (lambda: rc.troposkein(2.0, 1.0, density=0.0), "`density` must be finite and > 0"),
    (lambda: rc.troposkein_from_radius(0.0, 1.0), "`radius` must be finite and > 0"),
    (lambda: rc.rope_with_gravity(2.0, 1.0, 3.0, g=-1.0), "`g` must be finite and >= 0"),
    (lambda: rc.critical_speeds(1.0, 9.81, 0), "`n` must be an integer in \\[1, 1000000\\]"),
    (lambda: rc.whirling_mode(1.0, 50.0, 9.81, 0), "`mode` must be an integer in \\[1, 20\\]"),
    (lambda: rc.whirling_mode(1.0, 3.0, 9.81, 1),
     "`omega` must be in \\(3.766067392, 3132.091953\\] rad/s: above the critical speed"),
    (lambda: rc.whirling_mode(1.0, rc.critical_speeds(1.0, 9.81, 1)[0], 9.81, 1),
     "`omega` must be in \\(3.76.*above the critical speed of mode 1"),
    (lambda: rc.ellipk(1.5), "`m` must lie in"),
    (lambda: rc.carlson_rf(0.0, 0.0, 1.0), "R_F needs finite non-negative"),
    (lambda: rc.carlson_rd(1.0, 1.0, 0.0), "R_D needs finite non-negative"),
    (lambda: rc.carlson_rd(-1.0, 1.0, 1.0), "R_D needs finite non-negative"),
    (lambda: rc.rope_with_gravity(2.0, 1.0, 3.0, tol=0.0), "`tol` must be in \\[1e-15, 1e-09\\]"),
    (lambda: rc.plot_curves([], "figure.jpg"), "`path` must name a .png file"),
    (lambda: rc.rope_with_gravity(2.0, 1.0, 3.0, tol=1e-6), "`tol` must be in"),
    (lambda: rc.rope_with_gravity(2.0, 1.0, 3.0, tol=1e-17), "`tol` must be in"),
    (lambda: rc.troposkein(2.0, 1.0)([0.5, 1.5]), "`z` must lie in"),
    (lambda: rc.troposkein(2.0, 1.0).arc_length(-0.5), "`z` must lie in"),
    (lambda: rc.ellipk(1 - 1e-14, m1=1e-16), "`m1` must equal 1 - m"),
    (lambda: rc.carlson_rf(np.inf, 1.0, 1.0), "R_F needs finite non-negative"),
    (lambda: rc.carlson_rd(1.0, 1.0, np.inf), "R_D needs finite non-negative"),
    (lambda: rc.ellipj(np.inf, 0.5), "`u` must be finite"),
    # once a silent Gamma_c for a rope shorter than its span, nan, or a ZeroDivisionError
    (lambda: rc.collapse_gamma(0.5, 1.0), "`length` must be a finite number > span"),
    (lambda: rc.collapse_gamma(float("nan"), 1.0), "`length` must be finite and > 0"),
    (lambda: rc.collapse_gamma(2.0, 0.0), "`span` must be finite and > 0"),
    # once a step-size ArithmeticError, or a silently looser answer
    (lambda: rc.whirling_mode(1.0, 20.0, tol=1e-20), "`tol` must be in \\[1e-15, 1e-06\\]"),
    (lambda: rc.whirling_mode(1.0, 20.0, tol=1.0), "`tol` must be in"),
    # once numpy's own messages deep inside
    (lambda: rc.troposkein(3.0, 1.0).sample(0), "`n` must be an integer in \\[2, "),
    (lambda: rc.troposkein(3.0, 1.0).sample(2.5), "`n` must be an integer in"),
    # once 10^7 points were accepted (~1 GB, seconds) and more were a cap in name only
    (lambda: rc.troposkein(3.0, 1.0).sample(10 ** 6 + 1),
     "`n` must be an integer in \\[2, 1000000\\] \\(finer adds nothing\\), received 1000001"),
    (lambda: rc.troposkein(3.0, 1.0).sample(True), "`n` must be an integer in .*received True"),
    (lambda: rc.troposkein(3.0, 1.0).sample(-5), "`n` must be an integer in .*received -5"),
    # once an OverflowError, and a ZeroDivisionError from an omega^2 that underflows
    (lambda: rc.troposkein(3.0, 1.0, omega=1e200), "`omega` must keep the loads"),
    (lambda: rc.rope_with_gravity(2.0, 1.0, 1e-200), "no whirling equilibrium"),
    # once a misleading "too close to the branch end" after seconds of work
    (lambda: rc.rope_with_gravity(300.0, 1.0, 10.0), "`length` must be in \\(1, 200\\] with"),
    (lambda: rc.ellipeinc(np.inf, 0.5), "`phi` must be finite"),
    # once silent infinite (or zero) speeds
    (lambda: rc.critical_speeds(1e-300, 1e300), "`g/length` must be finite and > 0, received inf"),
    (lambda: rc.whirling_mode(1e300, 1.0, 1e-300), "`g/length` must be finite and > 0, received 0"),
])
def test_documented_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_type_errors_name_the_argument():
    with pytest.raises(TypeError, match="`length` must be a real number"):
        rc.troposkein("3", 1.0)
    with pytest.raises(TypeError, match="`omega` must be a real number"):
        rc.rope_with_gravity(3.0, 1.0, None)
    with pytest.raises(TypeError, match="`length` must be a real number, received ndarray"):
        rc.troposkein(np.array([3.0]), 1.0)
    with pytest.raises(TypeError, match="`length` must be a real number, received str"):
        rc.collapse_gamma("2", 1.0)  # once a TypeError from inside the division
    # strings were silently parsed, complex numbers failed inside numpy
    for call, name in [(lambda: rc.ellipk("0.5"), "m"), (lambda: rc.ellipk(True), "m"),
                       (lambda: rc.troposkein(2.0, 1.0)("0.5"), "z"),
                       (lambda: rc.ellipj(1j, 0.5), "u"), (lambda: rc.ellipe(0.5, None), None),
                       (lambda: rc.carlson_rf(1j, 1.0, 1.0), "x"),
                       (lambda: rc.ellipeinc("1", 0.5), "phi")]:
        if name is None:
            call()  # m1=None means "1 - m"
            continue
        with pytest.raises(TypeError, match=f"`{name}` must be real numbers"):
            call()
    with pytest.raises(TypeError, match="`path` must be a str or path"):
        rc.plot_curves([], 3)
    # a 0-d array is a number: the same rope as from a float
    assert rc.troposkein(np.array(3.0), np.float32(1.0)).m == rc.troposkein(3.0, 1.0).m


def test_gravity_on_a_nearly_straight_rope():
    """L/d = 1 + 1e-9: the whirl is ~2e-5 d wide (once refused as 'too close to the branch
    end' because it is small in absolute terms); compared with the independent shooting."""
    length, omega, g = 1 + 1e-9, 10.0, 9.81
    rope = rc.rope_with_gravity(length, 1.0, omega, g)
    gamma = g / omega ** 2
    # start from the taut-string limit: H = rho w^2 (d/pi)^2, slope pi R/d, R = (2/pi) sqrt(L/d - 1)
    start = [2 * math.sqrt(length - 1) / np.pi ** 2, 1 / np.pi ** 2 - gamma / 2]
    p, sol = _scipy_gravity(length, 1.0, gamma, start)
    np.testing.assert_allclose(np.array(rope.lower_end_force) / omega ** 2, p, rtol=1e-6)
    # the end conditions are nearly degenerate for a taut rope: agreement to ~5e-7 of the width
    np.testing.assert_allclose(rope.r, sol.sol(rope.s)[0], atol=1e-11)
    assert 1e-5 < rope.max_radius < rc.troposkein(length, 1.0).max_radius


def test_library_imports_only_numpy():
    code = "import sys, rope_curve; print(sorted({'scipy', 'matplotlib'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_cli_prints_numbers_and_writes_png(tmp_path):
    from PIL import Image

    png = tmp_path / "rope.png"
    out = subprocess.run([sys.executable, "rope_curve.py", "--length", "3", "--span", "2",
                          "--g", "9.81", "--omega", "6", "--png", str(png)],
                         cwd=REPO, capture_output=True, text=True, check=True)
    rope = rc.troposkein(3.0, 2.0, 6.0)
    assert f"max_radius = {rope.max_radius:.12g}" in out.stdout
    assert "with gravity: Gamma" in out.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        assert image.size == (600, 600)
    bad = subprocess.run([sys.executable, "rope_curve.py", "--length", "1", "--span", "2"],
                         cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "`length` must be a finite number > span" in bad.stderr
    jpg = subprocess.run([sys.executable, "rope_curve.py", "--length", "3", "--png", "r.jpg"],
                         cwd=REPO, capture_output=True, text=True)
    assert jpg.returncode == 2 and "--png must name a .png file" in jpg.stderr


def test_demo_says_what_its_figures_show(tmp_path):
    from scipy.special import ellipe, ellipk

    lines = "\n".join(rc._demo(tmp_path)).splitlines()
    assert [line.split(":")[0] for line in lines[::2][:3]] == [
        "troposkein.png", "gravity.png", "hanging.png"]
    for name in ("troposkein.png", "gravity.png", "hanging.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    # the largest radius of L/d = 1.5 (400 samples) against scipy's closed form R/d
    shown = float(lines[1].split("L/d = 1.5: ")[1].split(",")[0])
    m = brentq(lambda m: 2 * ellipe(m) / ((1 - m) * ellipk(m)) - 2.5, 0.01, 0.99, xtol=1e-15)
    np.testing.assert_allclose(shown, np.sqrt(m) / ((1 - m) * ellipk(m)), rtol=2e-5)
    speeds = [float(w) for w in lines[6].split("rad/s: ")[1].split(", ")]
    np.testing.assert_allclose(speeds, jn_zeros(0, 3) / 2 * np.sqrt(9.81), rtol=2e-6)
    assert lines[-1] == f"figures written to {tmp_path}/"
    assert rc._demo()[-1] == "give --out FOLDER to draw these figures"
    help_text = subprocess.run([sys.executable, "rope_curve.py", "--help"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout
    assert "--length" in help_text and "--out" in help_text


def _cli(*args, cwd=REPO, hide_matplotlib=False):
    """Run the CLI in a fresh interpreter (optionally as if matplotlib were not installed)."""
    code = ("import runpy, sys\n"
            + ("sys.modules['matplotlib'] = None\n" if hide_matplotlib else "")
            + f"sys.argv = ['rope_curve.py', *{list(map(str, args))!r}]\n"
            + f"runpy.run_path({str(REPO / 'rope_curve.py')!r}, run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)


def test_figures_without_matplotlib_say_what_to_install(tmp_path):
    """Once a raw ModuleNotFoundError, after `--out` had already made its folder."""
    out = tmp_path / "figures"
    for args in (["--out", out], ["--length", "3", "--png", tmp_path / "rope.png"]):
        proc = _cli(*args, hide_matplotlib=True)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.splitlines()[-1] == (
            "rope_curve.py: error: figures need matplotlib: pip install matplotlib")
    assert list(tmp_path.iterdir()) == []
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import rope_curve\n"
            "try:\n    rope_curve.plot_curves([], 'rope.png')\n"
            "except ModuleNotFoundError as err:\n    print(err)\n")
    lib = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert lib.stdout.strip() == "figures need matplotlib: pip install matplotlib"
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_bad_outputs_and_lone_options(tmp_path):
    existing, folder = tmp_path / "notes.txt", tmp_path / "shapes.png"
    existing.write_text("keep me")
    folder.mkdir()
    cases = [  # the first two were tracebacks after the work was done
        (["--length", "3", "--png", folder], "--png must name a .png file in an existing"),
        (["--length", "3", "--png", existing / "rope.png"], "--png must name a .png file"),
        (["--out", existing], "--out must name a folder that exists or can be made"),
        (["--out", existing / "figures"], "--out must name a folder that exists"),
        (["--out", ""], "--out must name a folder that exists"),  # once the current folder
        (["--length", "3", "--png", ""], "--png must name a .png file"),  # once ignored
        (["--length", "3", "--out", tmp_path / "new"], "--out is for the demo"),
        (["--span", "2"], "--span: options of one rope, give --length"),  # was ignored
        (["--length", "3", "--span", "0"], "`span` must be finite and > 0"),
    ]
    for args, message in cases:
        proc = _cli(*args)
        assert proc.returncode == 2 and message in proc.stderr.splitlines()[-1], (args, proc)
    assert existing.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "shapes.png"]
    assert list(folder.iterdir()) == []


def test_dollars_in_user_text_are_drawn_as_typed(tmp_path, monkeypatch):
    """Once matplotlib's mathtext ParseException, or "$5 or $" silently set as a formula."""
    from matplotlib.figure import Figure

    drawn, savefig = [], Figure.savefig

    def keep_texts(self, *args, **kwargs):
        savefig(self, *args, **kwargs)  # draws every text, so a mathtext error would raise here
        ax = self.axes[0]
        texts = [ax.get_title(), ax.get_ylabel(), *(t.get_text() for t in ax.get_legend().texts)]
        drawn.extend(ax.title._preprocess_math(t) for t in texts)  # what matplotlib shows

    monkeypatch.setattr(Figure, "savefig", keep_texts)
    given = [r"a $\frac$", "costs $5 or $6", r"x^$_$", r"say \$ $\foo$"]
    rc.plot_curves([([0.0, 1.0], [0.0, 1.0], given[2]), ([0.0, 2.0], [0.0, 1.0], given[3])],
                   tmp_path / "rope.png", title=given[0], vertical=given[1])
    assert drawn == [(text, False) for text in given]  # (shown text, not mathtext)
    assert (tmp_path / "rope.png").read_bytes()[:4] == b"\x89PNG"


def test_a_failed_figure_leaves_no_partial_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken_savefig(self, fname, **kwargs):
        half = b"\x89PNG half"  # a disk that fills up half way
        fname.write(half) if hasattr(fname, "write") else Path(fname).write_bytes(half)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    target = tmp_path / "rope.png"
    with pytest.raises(OSError, match="cannot write .*rope.png.*No space left"):
        rc.plot_curves([([0.0, 1.0], [0.0, 1.0], "a")], target)
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"old figure")  # a failure keeps the file it would have replaced
    with pytest.raises(OSError, match="No space left"):
        rc.plot_curves([([0.0, 1.0], [0.0, 1.0], "a")], target)
    assert list(tmp_path.iterdir()) == [target] and target.read_bytes() == b"old figure"


def test_figures_write_through_symlinks_with_the_modes_open_gives(tmp_path):
    """Once a symlink at the output path was replaced by a regular file, and a replaced file
    took the umask's mode instead of keeping its own."""
    curve = [([0.0, 1.0], [0.0, 1.0], "a")]
    (tmp_path / "figures").mkdir()
    kept = tmp_path / "figures" / "kept.png"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    links = {"link.png": kept, "dangling.png": tmp_path / "figures" / "new.png"}
    for name, target in links.items():
        (tmp_path / name).symlink_to(target)
    old_umask = os.umask(0o027)
    try:
        for name in links:
            assert rc.plot_curves(curve, tmp_path / name) == tmp_path / name
        rc.plot_curves(curve, tmp_path / "plain.png")
        proc = _cli("--length", "3", "--png", tmp_path / "link.png")  # --png writes the same way
        assert proc.returncode == 0, proc.stderr
    finally:
        os.umask(old_umask)
    for name, target in links.items():
        assert (tmp_path / name).is_symlink() and (tmp_path / name).resolve() == target
        assert target.read_bytes()[:4] == b"\x89PNG"
    modes = {p.name: p.stat().st_mode & 0o777 for p in (kept, links["dangling.png"],
                                                         tmp_path / "plain.png")}
    assert modes == {"kept.png": 0o640, "new.png": 0o640, "plain.png": 0o640}  # 0o666 & ~0o027
    kept.chmod(0o600)
    rc.plot_curves(curve, tmp_path / "link.png")
    assert kept.stat().st_mode & 0o777 == 0o600
    # no temporary file is left beside either the links or the targets
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dangling.png", "figures", "link.png", "plain.png"]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["kept.png", "new.png"]
    # a link into a folder that does not exist is refused before the work, as open() would fail
    (tmp_path / "lost.png").symlink_to(tmp_path / "missing" / "rope.png")
    with pytest.raises(ValueError, match="`path` must name a .png file in an existing folder"):
        rc.plot_curves(curve, tmp_path / "lost.png")


def test_a_failed_demo_leaves_no_folder(tmp_path, monkeypatch):
    """Once the folder and the first two figures stayed behind when the third failed."""
    def failing(*args, **kwargs):
        raise ValueError("no whirling mode")

    monkeypatch.setattr(rc, "whirling_mode", failing)
    with pytest.raises(ValueError, match="no whirling mode"):
        rc._demo(tmp_path / "figures")
    assert list(tmp_path.iterdir()) == []
    real = rc.plot_curves
    calls = []

    def third_fails(curves, path, *args):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("cannot write")
        return real(curves, path, *args)

    monkeypatch.undo()
    monkeypatch.setattr(rc, "plot_curves", third_fails)
    with pytest.raises(OSError):
        rc._demo(tmp_path / "figures")
    assert len(calls) == 3 and list(tmp_path.iterdir()) == []


def test_copied_file_needs_numpy_only(tmp_path):
    script = (
        "import sys\n"
        "sys.modules['keras'] = None; sys.modules['tensorflow'] = None\n"
        "sys.modules['scipy'] = None; sys.modules['matplotlib'] = None\n"
        "import rope_curve as rc\n"
        "t = rc.troposkein(3.0, 2.0, omega=10.0)\n"
        "g = rc.rope_with_gravity(3.0, 2.0, omega=5.0, g=9.81, tol=1e-9)\n"
        "w = rc.whirling_mode(1.0, 20.0, 9.81, mode=2, tol=1e-9)\n"
        "print(f'{t.max_radius!r} {g.max_radius!r} {float(w.r[-1])!r} {w.mode}')\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'scipy', 'matplotlib')\n"
        "             if sys.modules.get(m) is not None))\n"
    )
    from scipy.special import ellipe, ellipk

    out = run_copied("rope_curve", script, "tensorflow", tmp_path).splitlines()
    radius, heavy, free_end, mode = out[0].split()
    assert out[1] == "[]" and mode == "2"
    # the troposkein against scipy's closed form; the other two as computed in this process
    m = brentq(lambda m: 2 * ellipe(m) / ((1 - m) * ellipk(m)) - 2.5, 0.01, 0.99, xtol=1e-15)
    np.testing.assert_allclose(float(radius), 2 * np.sqrt(m) / ((1 - m) * ellipk(m)), rtol=1e-12)
    assert float(heavy) == rc.rope_with_gravity(3.0, 2.0, 5.0, 9.81, tol=1e-9).max_radius
    assert float(free_end) == rc.whirling_mode(1.0, 20.0, 9.81, 2, tol=1e-9).r[-1]
