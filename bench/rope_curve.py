"""Benchmark for rope_curve.py: troposkein and gravity case against scipy, side by side.

Rows: one troposkein solved and sampled at 1,000 points (rope_curve, a scipy closed form with
brentq + ellipk/ellipe/ellipj, and scipy's solve_bvp on the arc-length equations), then the
rope with gravity (rope_curve's shooting with continuation vs solve_bvp with continuation).
Times are medians of repeated runs in one process; errors are max |r| differences in units
of d against the closed form (troposkein) or against rope_curve (gravity).

Run from the repo root:  .venv/bin/python bench/rope_curve.py [--repeats 30]
`--table` prints instead the key numbers of a few troposkeins (no timing).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_bvp
from scipy.optimize import brentq
from scipy.special import ellipe, ellipj, ellipk

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import rope_curve as rc  # noqa: E402

LENGTH, SPAN, POINTS, GAMMA = 3.0, 2.0, 1000, 0.5


def ours():
    return rc.troposkein(LENGTH, SPAN).sample(POINTS)


def scipy_closed_form():
    ratio = LENGTH / SPAN
    m = brentq(lambda m: 2 * ellipe(m) / ((1 - m) * ellipk(m)) - 1 - ratio, 0.0, 1 - 1e-15,
               xtol=1e-16, rtol=1e-15)
    k = ellipk(m)
    z = np.linspace(0.0, SPAN, POINTS)
    return z, SPAN * np.sqrt(m) / ((1 - m) * k) * ellipj(2 * k * z / SPAN, m)[0]


def _bvp(gamma, guess_s, guess_y, guess_p, tol):
    """Arc-length equations from the lower end, units of d and rho w^2 d^2; p = (V0,)."""
    def fun(s, y, p):
        ty = p[0] + gamma * s
        t = np.hypot(y[2], ty)
        return np.vstack([y[2] / t, ty / t, -y[0]])

    def bc(ya, yb, p):
        return np.array([ya[0], ya[1], yb[0], yb[1] - 1.0])

    return solve_bvp(fun, bc, guess_s, guess_y, p=guess_p, tol=tol, max_nodes=100000)


def _generic_guess():
    ell = LENGTH / SPAN
    s = np.linspace(0.0, ell, 201)
    phase = np.pi * s / ell
    return s, np.vstack([0.4 * ell * np.sin(phase), s / ell, 0.3 * np.cos(phase)]), [0.1]


def bvp_troposkein():
    sol = _bvp(0.0, *_generic_guess(), tol=1e-8)
    s = np.linspace(0.0, LENGTH / SPAN, POINTS)
    return sol.sol(s)[1] * SPAN, sol.sol(s)[0] * SPAN


def ours_gravity():
    omega = 1.0
    return rc.rope_with_gravity(LENGTH, SPAN, omega, g=GAMMA * omega ** 2 * SPAN)


def bvp_gravity(steps=5):
    s, y, p = _generic_guess()
    for gamma in np.linspace(0.0, GAMMA, steps + 1):
        sol = _bvp(gamma, s, y, p, tol=1e-8)
        s, y, p = sol.x, sol.y, sol.p
    return sol


def key_numbers(ratios=(1.05, 1.5, 2.0, 3.0, 5.0)) -> list[str]:
    """Key numbers per L/d, in units of d and rho w^2 d^2 (and rho d^3 for I)."""
    lines = [f"{'L/d':>6} {'m':>10} {'R/d':>9} {'angle/deg':>9} {'H':>9} {'T_end':>9} "
             f"{'I':>9} {'Gamma_c':>8}"]
    for ratio in ratios:
        t = rc.troposkein(ratio, 1.0)
        lines.append(f"{ratio:6.3g} {t.m:10.6f} {t.max_radius:9.5f} {t.end_angle_deg:9.3f} "
                     f"{t.axial_force:9.5f} {t.end_tension:9.5f} {t.moment_of_inertia:9.5f} "
                     f"{rc.collapse_gamma(ratio, 1.0):8.4f}")
    lines.append("units: lengths d, forces rho w^2 d^2, moment of inertia rho d^3")
    return lines


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--table", action="store_true", help="print the key numbers and stop")
    args = parser.parse_args()
    if args.table:
        print("\n".join(key_numbers()))
        return
    reference = scipy_closed_form()[1]
    ours_r = ours()[1]
    bvp_z, bvp_r = bvp_troposkein()
    bvp_err = np.max(np.abs(np.interp(np.linspace(0, SPAN, POINTS), *np.unique(
        np.stack([bvp_z, bvp_r]), axis=1)) - reference))
    t_ours = _median_time(ours, args.repeats)
    t_scipy = _median_time(scipy_closed_form, args.repeats)
    t_bvp = _median_time(bvp_troposkein, max(3, args.repeats // 10))
    print(f"## troposkein L = {LENGTH}, d = {SPAN}: solve + sample {POINTS} points\n")
    print("| method | median time | vs rope_curve | max abs error in r (units of d) |")
    print("|---|---|---|---|")
    print(f"| rope_curve (numpy AGM + Landen) | {t_ours * 1e3:.3f} ms | 1.0x | "
          f"{np.max(np.abs(ours_r - reference)) / SPAN:.1e} (vs scipy form) |")
    print(f"| scipy closed form (brentq, ellipk/e, ellipj) | {t_scipy * 1e3:.3f} ms | "
          f"{t_scipy / t_ours:.2f}x | reference |")
    print(f"| scipy solve_bvp (tol 1e-8) | {t_bvp * 1e3:.1f} ms | {t_bvp / t_ours:.0f}x | "
          f"{bvp_err / SPAN:.1e} |")

    rope = ours_gravity()
    sol = bvp_gravity()
    grav_err = np.max(np.abs(sol.sol(rope.s / SPAN)[0] * SPAN - rope.r)) / SPAN
    t_grav = _median_time(ours_gravity, max(3, args.repeats // 5))
    t_bvp_grav = _median_time(bvp_gravity, max(3, args.repeats // 10))
    print(f"\n## rope with gravity, L/d = {LENGTH / SPAN}, Gamma = {GAMMA}\n")
    print("| method | median time | vs rope_curve | max abs difference in r (units of d) |")
    print("|---|---|---|---|")
    print(f"| rope_curve (adaptive RK4 shooting, Newton, continuation) | {t_grav * 1e3:.1f} ms "
          "| 1.0x | reference |")
    print(f"| scipy solve_bvp, 5 continuation steps (tol 1e-8) | {t_bvp_grav * 1e3:.1f} ms | "
          f"{t_bvp_grav / t_grav:.2f}x | {grav_err:.1e} |")


if __name__ == "__main__":
    main()
