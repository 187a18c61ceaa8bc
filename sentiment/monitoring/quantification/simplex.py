"""Least squares on the probability simplex: the adjustment step of ACC and PACC.

ACC solves ``q = M p`` for the window's class shares ``p``, where ``q`` is what the classifier reports (counted or
averaged) and ``M[i, j]`` the rate at which class ``j`` is reported as ``i`` on the reference (Forman 2008). A raw
inverse ``M^{-1} q`` leaves ``[0, 1]`` whenever sampling noise in ``q`` or ``M`` crosses a face of the simplex, and
clipping it afterwards (quapy's ``norm="clip"``) is not the closest valid answer. Here the system is solved as the
constrained least-squares problem ``min ||M p - q||^2`` over ``p >= 0, sum p = 1`` (Bunse, LQ 2022, recommends the
same), exactly: for three classes there are seven faces, and the optimum is the best of the faces' equality-
constrained solutions that are feasible.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

_FEASIBLE = -1e-12  # a face's solution with entries below this is outside the simplex


def simplex_least_squares(matrix: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``argmin ||matrix @ p - target||^2`` over the simplex, for a ``(m, k)`` matrix and ``(m,)`` target; ``(k,)``.

    Why it is exact: the problem is convex, so its optimum lies in the relative interior of some face ``S`` of the
    simplex, where it is also the optimum of the same objective on the affine hull of ``S`` (the KKT system below);
    enumerating the ``2^k - 1`` faces and keeping the best feasible solution therefore finds it. A rank-deficient
    face has a set of optima; one of them lies on a smaller face, which the enumeration also visits. Vertices are
    always feasible, so an answer always exists. Meant for a handful of classes (``k <= 10``)."""
    m = np.asarray(matrix, dtype=np.float64)
    q = np.asarray(target, dtype=np.float64)
    k = m.shape[1]
    best, best_loss = np.full(k, 1.0 / k), np.inf
    for size in range(1, k + 1):
        for face in combinations(range(k), size):
            cols = list(face)
            sub = m[:, cols]
            kkt = np.zeros((size + 1, size + 1))
            kkt[:size, :size] = sub.T @ sub
            kkt[:size, size] = kkt[size, :size] = 1.0
            solution = np.linalg.lstsq(kkt, np.r_[sub.T @ q, 1.0], rcond=None)[0][:size]
            if (solution < _FEASIBLE).any():
                continue
            p = np.zeros(k)
            p[cols] = np.clip(solution, 0.0, None)
            p /= p.sum()
            loss = float(np.sum((m @ p - q) ** 2))
            if loss < best_loss - 1e-15:
                best, best_loss = p, loss
    return best
