"""DBSCAN with cosine distance over the parameter grid, without an N x N matrix.

The original precomputed the full cosine distance matrix of the training alerts
(9 minutes for 2,632 alerts) and ran scikit-learn's DBSCAN on it for each of the
36 grid points.  This module gives the same labels with memory that grows
linearly with the number of alerts:

1. **Identical vectors are collapsed** into one weighted point
   (:func:`unique_rows`); a point with weight ``w`` counts ``w`` times towards
   ``min_samples``, exactly like ``w`` copies.  Points keep the order of their first
   occurrence, so cluster numbers and border assignments match the original.
2. **Cosine distance** ``d = 1 - u.v`` of unit rows is computed block by block
   from dot products (in float64, BLAS).  Which blocks are needed comes from a
   neighbour index: the points are split into small balls, and since
   ``|u - v| = sqrt(2 d)`` on unit vectors, the triangle inequality skips every
   pair of balls that cannot hold a pair within the search radius.  Exact; for
   clustered vectors it computes well under 1% of all pairs.
3. **Core points** come from the ``K`` nearest neighbours of each point
   (``K = max(min_samples)``): the *core distance* for ``min_samples = m`` is the
   distance at which the neighbours' weights add up to ``m``; a point is core at
   ``eps`` when its core distance is ``<= eps``.
4. **One tree serves all eps**: the clusters of core points at ``eps`` are the
   connected components of the edges ``d <= eps`` between core points, i.e. the
   components of the minimum spanning tree of the *mutual reachability* distance
   ``max(core(a), core(b), d(a, b))`` cut at ``eps`` (the construction behind
   HDBSCAN*).  :class:`GridClustering` builds that tree once per ``min_samples``
   (Prim's algorithm on BLAS dot products, O(n^2) time, O(n) memory) and reads
   every ``eps`` off it.  :class:`CosineDBSCAN` (one grid point) counts weights
   and joins core points through the radius neighbours instead, block by block.
5. **Border points** (not core, within ``eps`` of a core point) get the cluster
   with the lowest number among their core neighbours: the cluster that
   scikit-learn's DBSCAN, which grows clusters in index order, reaches first.
   Their neighbours are always among the ``K`` nearest, since fewer than
   ``min_samples`` points lie within ``eps`` of a non-core point.
6. **Prediction** for a new alert: the cluster of the nearest training core
   sample if it lies within ``eps`` (ties to the lower index), else noise (-1).
   The original took the *first* core sample in index order with distance
   ``< eps``; the nearest one is the better defined choice and differs only where
   one alert lies within ``eps`` of two clusters.

Zero vectors (an alert a method cannot represent) are at distance 1 from every
other vector; identical zero vectors collapse like any identical vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.base import BaseEstimator, ClusterMixin
from threadpoolctl import threadpool_limits

#: The original's DBSCAN grid.
EPS_GRID = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
MIN_SAMPLES_GRID = (1, 3, 10, 30)

NOISE = -1
#: Bytes of float64 per distance block; bounds the memory of every block computation.
_BLOCK_BYTES = 64 * 1024 * 1024
#: Nearest training points looked at per new alert before an exact fallback search.
_PREDICT_NEIGHBOURS = 32


#: BLAS threads inside clustering.  The products here are many small blocks and
#: matrix-vector steps, where BLAS threads cost more in hand-offs than they gain
#: (measured: a 20,000 x 32 matrix-vector product took 60x longer with two
#: threads on a loaded 2-core machine).  Run cuts or methods in parallel instead.
BLAS_THREADS = 1


def _single_blas(func):
    """Run ``func`` with BLAS limited to :data:`BLAS_THREADS` threads."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper


def _progress(iterable, quiet: bool, **kwargs):
    if quiet:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def normalise_rows(X) -> np.ndarray:
    """Rows scaled to unit length, as float64 (zero rows stay zero).

    Parameters
    ----------
    X : array (n, d) of vectors.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("vectors contain NaN or infinite values")
    norms = np.linalg.norm(X, axis=1)
    norms[norms == 0] = 1.0
    return X / norms[:, None]


@dataclass
class UniqueRows:
    """Distinct rows of a matrix in order of first occurrence.

    Attributes
    ----------
    values : (m, d) the distinct rows.
    inverse : (n,) index into ``values`` of each original row.
    counts : (m,) how often each distinct row occurs.
    first : (m,) index of each distinct row's first occurrence.
    """

    values: np.ndarray
    inverse: np.ndarray
    counts: np.ndarray
    first: np.ndarray


def _row_hashes(words: np.ndarray) -> np.ndarray:
    """A 64-bit hash per row of a uint64 matrix (xor-multiply fold; collisions are checked by the caller)."""
    h = np.full(words.shape[0], 0x9E3779B97F4A7C15, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            h ^= words[:, j]
            h *= prime
            h ^= h >> np.uint64(29)
    return h


def unique_rows(X) -> UniqueRows:
    """Collapse identical rows (bitwise identical values) into one, keeping first-occurrence order.

    Rows are hashed and every row is then compared with the first row of its hash,
    so the result is exact; a hash collision falls back to a sort-based comparison.

    Parameters
    ----------
    X : array (n, d).
    """
    import pandas as pd

    X = np.ascontiguousarray(X)
    n = X.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return UniqueRows(X[:0].copy(), empty, empty, empty)
    # +0.0 and -0.0 are equal vectors: make them one bit pattern
    X = X + 0.0
    raw = X.view(np.uint8).reshape(n, -1)
    if raw.shape[1] % 8:
        raw = np.pad(raw, ((0, 0), (0, 8 - raw.shape[1] % 8)))
    words = np.ascontiguousarray(raw).view(np.uint64)
    # factorize numbers codes in order of first appearance: a row is a first occurrence
    # exactly where the running maximum of the codes grows
    codes, _ = pd.factorize(_row_hashes(words), sort=False)
    running = np.maximum.accumulate(codes)
    is_first = np.ones(n, dtype=bool)
    is_first[1:] = running[1:] > running[:-1]
    first = np.flatnonzero(is_first)
    if not np.array_equal(words, words[first[codes]]):  # hash collision: exact slow path
        void = np.ascontiguousarray(raw).view(np.dtype((np.void, raw.shape[1]))).ravel()
        _, first_sorted, codes = np.unique(void, return_index=True, return_inverse=True)
        codes = codes.ravel()
        order = np.argsort(first_sorted, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        codes = rank[codes]
        first = first_sorted[order]
    counts = np.bincount(codes, minlength=first.size).astype(np.int64)
    return UniqueRows(X[first], codes.astype(np.int64), counts, first)


def _block_rows(n_columns: int) -> int:
    return max(1, min(4096, _BLOCK_BYTES // (8 * max(1, n_columns))))


def _cosine_block(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Cosine distances ``1 - a.b`` of unit rows, clipped to [0, 2]."""
    D = A @ B.T
    np.subtract(1.0, D, out=D)
    np.clip(D, 0.0, 2.0, out=D)
    return D


def _euclidean_of(cosine_distance):
    """Euclidean distance of unit vectors at a cosine distance: ``sqrt(2 d)``."""
    return np.sqrt(2.0 * np.maximum(cosine_distance, 0.0))


#: Edges buffered before the components are merged (bounds memory at large eps).
_EDGE_BUFFER = 4_000_000
#: Typical rows per pivot group of the block index (speed only, never results).
_GROUP_SIZE = 64
#: Sets of at most this many rows are not partitioned (plain blocks are cheaper).
_BRUTE_ROWS = 4096
#: Balls wider than this (Euclidean) are split even when small.
_WIDE = 0.3
#: Slack on pruning bounds so that rounding never prunes a true neighbour.
_SLACK = 1e-7


def _balls(X: np.ndarray, idx: np.ndarray, assign: np.ndarray, k: int):
    """Members (per part), centre (normalised mean) and radius of each of the k parts of ``X[idx]``."""
    order = np.argsort(assign, kind="stable")
    counts = np.bincount(assign, minlength=k)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    nonempty = np.flatnonzero(counts)
    P = X[idx[order]]
    sums = np.add.reduceat(P, bounds[nonempty], axis=0)
    norms = np.linalg.norm(sums, axis=1)
    centres = np.where(norms[:, None] > 0, sums / np.where(norms > 0, norms, 1.0)[:, None], P[bounds[nonempty]])
    dist = _euclidean_of(1.0 - np.einsum("ij,ij->i", P, np.repeat(centres, counts[nonempty], axis=0)))
    radius = np.maximum.reduceat(dist, bounds[nonempty])
    members = [idx[order[bounds[j]:bounds[j + 1]]] for j in nonempty]
    return members, centres, radius


def _partition(X: np.ndarray, leaf_size: int, seed: int = 0, brute_rows: int | None = None):
    """Split unit rows into small balls: (centres, radii, list of member index arrays).

    Up to ``brute_rows`` (default ``_BRUTE_ROWS``) rows stay one ball (no pruning:
    plain blocks are cheaper).  Otherwise a group is split around random members (each row goes to
    the nearest) while it holds more than ``leaf_size`` rows, or more than 4 rows
    spread wider than ``_WIDE``.  A ball's centre is the normalised mean of its members, its radius
    the largest Euclidean distance of a member to the centre (plus a slack).
    """
    n = X.shape[0]
    if n == 0:
        return X[:0].copy(), np.zeros(0), []
    rng = np.random.default_rng(seed)
    members, centres, radii = _balls(X, np.arange(n), np.zeros(n, dtype=np.int64), 1)
    if n <= (_BRUTE_ROWS if brute_rows is None else brute_rows):  # small: one ball, plain blocks are cheaper
        return centres, radii + _SLACK, members
    todo = [(members[0], centres[0], radii[0])]
    leaves = []
    while todo:
        idx, centre, radius = todo.pop()
        if not (idx.size > leaf_size or (idx.size > 4 and radius > _WIDE)):
            leaves.append((idx, centre, radius))
            continue
        k = int(min(16, max(4, idx.size // leaf_size), idx.size))
        pivots = X[rng.choice(idx, size=k, replace=False)]
        assign = np.empty(idx.size, dtype=np.int64)
        step = _block_rows(k)
        for start in range(0, idx.size, step):
            assign[start:start + step] = np.argmax(X[idx[start:start + step]] @ pivots.T, axis=1)
        if np.all(assign == assign[0]):  # cannot separate (equal rows): keep as one leaf
            leaves.append((idx, centre, radius))
            continue
        members, centres, radii = _balls(X, idx, assign, k)
        todo.extend(zip(members, centres, radii))
    leaves.sort(key=lambda leaf: int(leaf[0][0]))
    centres = np.array([leaf[1] for leaf in leaves])
    radii = np.array([leaf[2] for leaf in leaves])
    return centres, radii + _SLACK, [leaf[0] for leaf in leaves]


class _BlockIndex:
    """Unit rows grouped into small balls, for exact pruned block computations.

    For rows ``x`` of a query ball ``A`` and ``y`` of an indexed ball ``B`` the
    triangle inequality gives ``|x - y| >= |cA - cB| - rA - rB``, so whole blocks
    of distances are skipped when that bound exceeds the search radius.  The
    distances that are computed are exact block products (``1 - x.y``); the
    partition only changes the speed, never a result.

    Parameters
    ----------
    U : (m, d) unit rows.
    part : a ready partition ``(centres, radii, groups)`` of U (default: computed).
    """

    def __init__(self, U: np.ndarray, part=None, seed: int = 0):
        self.U = U
        self.seed = seed
        self.centres, self.radius, self.groups = _partition(U, _GROUP_SIZE, seed) if part is None else part
        self.sizes = np.array([g.size for g in self.groups], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self.flat = np.concatenate(self.groups) if self.groups else np.zeros(0, dtype=np.int64)
        zero = np.flatnonzero(~U.any(axis=1)) if U.size else np.zeros(0, dtype=np.int64)
        #: index of the zero row (rows are distinct, so at most one), or -1
        self.zero = int(zero[0]) if zero.size else -1

    def _zero_fix(self, D, rows, cols, X):
        """Identical zero vectors are at distance 0 (the formula ``1 - x.y`` says 1)."""
        if self.zero < 0:
            return D
        zc = cols == self.zero
        if zc.any():
            zr = ~X[rows].any(axis=1)
            if zr.any():
                D[np.ix_(zr, zc)] = 0.0
        return D

    @property
    def part(self):
        """The partition ``(centres, radii, groups)``."""
        return self.centres, self.radius, self.groups

    def subset(self, sel: np.ndarray) -> "_BlockIndex":
        """Index of the rows ``U[sel]`` (``sel`` sorted), reusing the balls (a subset stays inside them)."""
        newpos = np.full(self.U.shape[0], -1, dtype=np.int64)
        newpos[sel] = np.arange(sel.size)
        groups, keep = [], []
        for g, members in enumerate(self.groups):
            mapped = newpos[members]
            mapped = mapped[mapped >= 0]
            if mapped.size:
                groups.append(mapped)
                keep.append(g)
        keep = np.array(keep, dtype=np.int64)
        return _BlockIndex(self.U[sel], part=(self.centres[keep], self.radius[keep], groups), seed=self.seed)

    def _queries(self, Q, q_part):
        if Q is None:
            return self.U, self.part
        return Q, (_partition(Q, _GROUP_SIZE, self.seed + 1) if q_part is None else q_part)

    def _bounds(self, q_centres: np.ndarray, q_radius: np.ndarray):
        """Lower bounds (query balls x indexed balls) in cache-sized chunks of query balls: yields (first, bounds)."""
        step = max(1, min(256, (1 << 20) // max(1, self.centres.shape[0])))
        for start in range(0, q_centres.shape[0], step):
            qc, qr = q_centres[start:start + step], q_radius[start:start + step]
            bound = _euclidean_of(1.0 - qc @ self.centres.T)
            bound -= qr[:, None]
            bound -= self.radius[None, :] + _SLACK
            yield start, bound

    def _members(self, leaves: np.ndarray) -> np.ndarray:
        """Indexed rows of the given balls, concatenated (vectorised)."""
        if leaves.size == 0:
            return np.zeros(0, dtype=np.int64)
        lengths = self.sizes[leaves]
        total = int(lengths.sum())
        shift = np.repeat(self.offsets[leaves] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return self.flat[np.arange(total) + shift]

    def radius_blocks(self, eps: float, Q: np.ndarray | None = None, q_part=None):
        """Yield ``(rows, cols, D)`` for every block that may hold a pair within cosine distance ``eps``.

        ``rows`` index ``Q`` (or the indexed rows), ``cols`` the indexed rows;
        ``D`` holds their exact cosine distances (pairs beyond ``eps`` included:
        the caller filters).  ``q_part`` is a ready partition of ``Q``.
        """
        X, (q_centres, q_radius, q_groups) = self._queries(Q, q_part)
        reach = float(_euclidean_of(eps))
        if not len(self.groups):
            return
        for start, bounds in self._bounds(q_centres, q_radius):
            near = bounds <= reach
            for r in range(bounds.shape[0]):
                rows_all = q_groups[start + r]
                cols = self._members(np.flatnonzero(near[r]))
                if rows_all.size == 0 or cols.size == 0:
                    continue
                step = _block_rows(cols.size)
                for s in range(0, rows_all.size, step):
                    rows = rows_all[s:s + step]
                    yield rows, cols, self._zero_fix(_cosine_block(X[rows], self.U[cols]), rows, cols, X)

    def kneighbors(self, k: int, Q: np.ndarray | None = None, q_part=None):
        """The ``k`` nearest indexed rows of each query, sorted by (distance, index).

        With ``Q=None`` the queries are the indexed rows and each row's distance to
        itself is exactly 0.
        """
        self_query = Q is None
        X, (q_centres, q_radius, q_groups) = self._queries(Q, q_part)
        m = self.U.shape[0]
        q = X.shape[0]
        k = min(k, m)
        idx = np.zeros((q, k), dtype=np.int64)
        dist = np.zeros((q, k), dtype=np.float64)
        if q == 0 or k == 0:
            return idx, dist
        for start, bounds in self._bounds(q_centres, q_radius):
            for r in range(bounds.shape[0]):
                rows_all = q_groups[start + r]
                if rows_all.size == 0:
                    continue
                # the nearest balls until they hold k rows give a first k-th distance ...
                order = np.argsort(bounds[r], kind="stable")
                n_first = int(np.searchsorted(np.cumsum(self.sizes[order]), k)) + 1
                best_i, best_d = self._topk(X, rows_all, self._members(order[:n_first]), k, self_query)
                # ... and every other ball that could hold something closer is searched too
                limit = float(_euclidean_of(best_d[:, -1].max()))
                rest = order[n_first:]
                more = rest[bounds[r][rest] <= limit]
                if more.size:
                    i2, d2 = self._topk(X, rows_all, self._members(more), k, self_query)
                    best_i, best_d = _merge_topk(best_i, best_d, i2, d2, k)
                idx[rows_all] = best_i
                dist[rows_all] = best_d
        return idx, dist

    def _topk(self, X, rows_all, cols, k, self_query):
        kk = min(k, cols.size)
        out_i = np.empty((rows_all.size, kk), dtype=np.int64)
        out_d = np.empty((rows_all.size, kk))
        step = _block_rows(cols.size)
        for start in range(0, rows_all.size, step):
            rows = rows_all[start:start + step]
            D = self._zero_fix(_cosine_block(X[rows], self.U[cols]), rows, cols, X)
            if self_query:
                D[rows[:, None] == cols[None, :]] = 0.0
            if kk < cols.size:
                part = np.argpartition(D, kk - 1, axis=1)[:, :kk]
            else:
                part = np.broadcast_to(np.arange(cols.size), D.shape).copy()
            pi = cols[part]
            pdist = np.take_along_axis(D, part, axis=1)
            o = np.lexsort((pi, pdist), axis=1)
            out_i[start:start + step] = np.take_along_axis(pi, o, axis=1)
            out_d[start:start + step] = np.take_along_axis(pdist, o, axis=1)
        if kk < k:  # fewer columns than k: pad with infinitely far dummies
            pad = k - kk
            out_i = np.hstack([out_i, np.full((rows_all.size, pad), -1, dtype=np.int64)])
            out_d = np.hstack([out_d, np.full((rows_all.size, pad), np.inf)])
        return out_i, out_d


def _merge_topk(i1, d1, i2, d2, k):
    """Merge two sorted candidate lists per row into the k best by (distance, index)."""
    ii = np.hstack([i1, i2])
    dd = np.hstack([d1, d2])
    big = np.iinfo(np.int64).max
    o = np.lexsort((np.where(ii < 0, big, ii), dd), axis=1)[:, :k]
    return np.take_along_axis(ii, o, axis=1), np.take_along_axis(dd, o, axis=1)


@_single_blas
def nearest_neighbours(U: np.ndarray, k: int, queries: np.ndarray | None = None, quiet: bool = True):
    """The ``k`` nearest rows of ``U`` (cosine distance) for each query, sorted by (distance, index).

    Exact; pruned block computations (:class:`_BlockIndex`), no distance matrix.

    Parameters
    ----------
    U : (m, d) unit rows searched.
    k : neighbours per query (at most ``m``).
    queries : (q, d) unit rows; ``None`` means ``U`` itself, and then each row's
        own distance is exactly 0 (it is its own first neighbour).
    quiet : unused (kept for a uniform signature).

    Returns
    -------
    (indices, distances), both (q, min(k, m)).
    """
    return _BlockIndex(U).kneighbors(k, queries)


def core_distances(nn_idx: np.ndarray, nn_dist: np.ndarray, weights: np.ndarray, min_samples: int) -> np.ndarray:
    """Distance at which the weights of a point's nearest neighbours reach ``min_samples``.

    A point is a core point at ``eps`` when its core distance is ``<= eps``
    (DBSCAN counts the point itself).  ``inf`` when all neighbours together
    weigh less than ``min_samples``.

    Parameters
    ----------
    nn_idx, nn_dist : from :func:`nearest_neighbours` (the point itself first).
    weights : (m,) weight of each point.
    min_samples : DBSCAN's ``min_samples`` (a weight).
    """
    if nn_idx.shape[1] == 0:
        return np.full(nn_idx.shape[0], np.inf)
    cum = np.cumsum(weights[nn_idx], axis=1)
    reached = cum >= min_samples
    col = np.argmax(reached, axis=1)
    out = nn_dist[np.arange(nn_idx.shape[0]), col]
    out[~reached.any(axis=1)] = np.inf
    return out


@_single_blas
def mutual_reachability_mst(U: np.ndarray, core: np.ndarray, max_distance: float = 2.0, quiet: bool = True):
    """Minimum spanning forest of the mutual reachability distance, edges up to ``max_distance``.

    Prim's algorithm with one BLAS matrix-vector product per step, no stored
    distance matrix.  Points whose core distance exceeds ``max_distance`` are
    left out (they are never core).

    Parameters
    ----------
    U : (m, d) unit rows.
    core : (m,) core distances (zeros give the plain cosine MST).
    max_distance : edges longer than this are dropped (the forest is cut there).
    quiet : no progress bar.

    Returns
    -------
    (a, b, w): edge end points (indices into ``U``) and weights, sorted by weight.
    """
    cand = np.flatnonzero(core <= max_distance)
    n = cand.size
    a_out = np.empty(max(n - 1, 0), dtype=np.int64)
    b_out = np.empty(max(n - 1, 0), dtype=np.int64)
    w_out = np.empty(max(n - 1, 0), dtype=np.float64)
    n_edges = 0
    if n <= 1:
        return a_out[:0], b_out[:0], w_out[:0]
    V = np.ascontiguousarray(U[cand])
    ids = cand.copy()
    cd = np.ascontiguousarray(core[cand], dtype=np.float64)
    use_core = bool(np.any(cd > 0))
    best = np.full(n, np.inf)
    src = np.full(n, -1, dtype=np.int64)
    k = n
    cur = 0
    bar = None
    if not quiet:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="spanning tree", leave=False, mininterval=0.5)
    while k > 0:
        v = V[cur].copy()
        vid = ids[cur]
        vcd = cd[cur]
        if best[cur] <= max_distance:
            a_out[n_edges] = src[cur]
            b_out[n_edges] = vid
            w_out[n_edges] = best[cur]
            n_edges += 1
        last = k - 1
        if cur != last:
            V[cur] = V[last]
            ids[cur] = ids[last]
            cd[cur] = cd[last]
            best[cur] = best[last]
            src[cur] = src[last]
        k = last
        if bar is not None and (n - k) % 1024 == 0:
            bar.update(1024)
        if k == 0:
            break
        dist = V[:k] @ v
        np.subtract(1.0, dist, out=dist)
        np.maximum(dist, 0.0, out=dist)
        if use_core:
            np.maximum(dist, cd[:k], out=dist)
            if vcd > 0:
                np.maximum(dist, vcd, out=dist)
        upd = dist < best[:k]
        np.copyto(best[:k], dist, where=upd)
        np.copyto(src[:k], vid, where=upd)
        cur = int(np.argmin(best[:k]))
    if bar is not None:
        bar.close()
    order = np.argsort(w_out[:n_edges], kind="stable")
    return a_out[:n_edges][order], b_out[:n_edges][order], w_out[:n_edges][order]


def _number_components(n: int, core_mask: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cluster label per point: components of the core points, numbered by their lowest index."""
    labels = np.full(n, NOISE, dtype=np.int64)
    core_idx = np.flatnonzero(core_mask)
    if core_idx.size == 0:
        return labels
    graph = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, comp = connected_components(graph, directed=False)
    comp_core = comp[core_idx]
    _, first_pos, inv = np.unique(comp_core, return_index=True, return_inverse=True)
    rank = np.empty(first_pos.size, dtype=np.int64)
    rank[np.argsort(first_pos, kind="stable")] = np.arange(first_pos.size)
    labels[core_idx] = rank[inv.ravel()]
    return labels


def _assign_border(labels: np.ndarray, core_mask: np.ndarray, nn_idx: np.ndarray, nn_dist: np.ndarray, eps: float) -> np.ndarray:
    """Give each non-core point the lowest cluster label among its core neighbours within eps."""
    out = labels.copy()
    non_core = np.flatnonzero(~core_mask)
    if non_core.size == 0 or not core_mask.any():
        return out
    big = np.iinfo(np.int64).max
    lab = np.where(core_mask, labels, big)
    cand = lab[nn_idx[non_core]]
    cand[nn_dist[non_core] > eps] = big
    best = cand.min(axis=1)
    out[non_core] = np.where(best == big, NOISE, best)
    return out


def _predict_from_neighbours(
    nn_idx: np.ndarray,
    nn_dist: np.ndarray,
    Q: np.ndarray,
    index: "_BlockIndex",
    core_mask: np.ndarray,
    labels: np.ndarray,
    eps: float,
):
    """Cluster of the nearest core point within eps for each query; exact fallback when the list is too short."""
    q = nn_idx.shape[0]
    pred = np.full(q, NOISE, dtype=np.int64)
    dist = np.full(q, np.inf)
    if q == 0 or not core_mask.any():
        return pred, dist
    is_core = core_mask[nn_idx]
    has = is_core.any(axis=1)
    first = np.argmax(is_core, axis=1)
    rows = np.arange(q)
    cand_idx = nn_idx[rows, first]
    cand_dist = nn_dist[rows, first]
    dist = np.where(has, cand_dist, np.inf)
    # every listed neighbour is within eps and none is core: the nearest core lies further down
    unresolved = ~has & (nn_dist[:, -1] <= eps) & (nn_idx.shape[1] < index.U.shape[0])
    if unresolved.any():
        rows_u = np.flatnonzero(unresolved)
        core_idx = np.flatnonzero(core_mask)
        near, d = index.subset(core_idx).kneighbors(1, Q[rows_u])
        cand_idx = cand_idx.copy()
        cand_idx[rows_u] = core_idx[near[:, 0]]
        dist[rows_u] = d[:, 0]
    ok = dist <= eps
    pred[ok] = labels[cand_idx[ok]]
    return pred, dist


def _unique_unit_rows(X) -> UniqueRows:
    """Distinct rows of ``X`` (first-occurrence order), then scaled to unit length (float64)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    uniq = unique_rows(X)
    uniq.values = normalise_rows(uniq.values)
    return uniq


def _prepare(X, sample_weight):
    uniq = _unique_unit_rows(X)
    U = uniq.values
    if sample_weight is None:
        weights = uniq.counts.astype(np.float64)
    else:
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.shape != (uniq.inverse.shape[0],):
            raise ValueError(f"sample_weight has shape {sw.shape}, expected ({uniq.inverse.shape[0]},)")
        weights = np.bincount(uniq.inverse, weights=sw, minlength=uniq.values.shape[0])
    return uniq, weights


def _check_params(eps: float, min_samples: int) -> None:
    if not (isinstance(eps, (int, float, np.floating, np.integer)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    if int(min_samples) != min_samples or min_samples < 1:
        raise ValueError(f"min_samples must be a positive integer, got {min_samples!r}")


class CosineDBSCAN(ClusterMixin, BaseEstimator):
    """DBSCAN with cosine distance for one (eps, min_samples), without a distance matrix.

    Gives the labels of ``sklearn.cluster.DBSCAN(eps, min_samples,
    metric="precomputed")`` on the cosine distance matrix, including cluster
    numbers and border points (see the module docstring), in memory linear in
    the number of alerts.

    Parameters
    ----------
    eps : neighbourhood radius in cosine distance (``1 - cos``).
    min_samples : weight within ``eps`` (the point included) that makes a core point.
    quiet : no progress bars.

    Attributes
    ----------
    labels_ : (n,) cluster of each training vector, noise -1.
    core_sample_indices_ : indices of the training vectors that are core samples.
    components_ : (c, d) the distinct core vectors (unit rows).
    component_labels_ : (c,) their cluster labels.
    n_distinct_ : number of distinct training vectors.
    """

    def __init__(self, eps: float = 0.01, min_samples: int = 3, quiet: bool = True):
        self.eps = eps
        self.min_samples = min_samples
        self.quiet = quiet

    @_single_blas
    def fit(self, X, y=None, sample_weight=None):
        """Cluster the vectors ``X`` (n, d); ``sample_weight`` as in scikit-learn's DBSCAN."""
        _check_params(self.eps, self.min_samples)
        uniq, weights = _prepare(X, sample_weight)
        U = uniq.values
        eps = float(self.eps)
        index = _BlockIndex(U)
        count = np.zeros(U.shape[0])
        for rows, cols, D in _progress(index.radius_blocks(eps), self.quiet, desc="core points", leave=False):
            count[rows] += np.where(D <= eps, weights[cols][None, :], 0.0).sum(axis=1)
        core = count >= self.min_samples
        labels_u = _radius_labels(index, core, eps, quiet=self.quiet)
        self._set_fitted(uniq, core, labels_u, index)
        return self

    def _set_fitted(self, uniq: UniqueRows, core_u: np.ndarray, labels_u: np.ndarray, index=None) -> None:
        self.labels_ = labels_u[uniq.inverse]
        self.core_sample_indices_ = np.flatnonzero(core_u[uniq.inverse])
        core_idx = np.flatnonzero(core_u)
        self.components_ = uniq.values[core_idx]
        self.component_labels_ = labels_u[core_idx]
        self.n_distinct_ = uniq.values.shape[0]
        self._core_index = index.subset(core_idx) if index is not None else None

    @_single_blas
    def predict(self, X, return_distance: bool = False):
        """Cluster of the nearest training core sample within ``eps`` for each row of ``X``, else -1.

        Parameters
        ----------
        X : (q, d) vectors.
        return_distance : also return the cosine distance to that core sample
            (``inf`` for noise).
        """
        if not hasattr(self, "components_"):
            raise ValueError("CosineDBSCAN is not fitted yet; call fit first")
        uniq = _unique_unit_rows(X)
        index = getattr(self, "_core_index", None)
        if index is None:
            index = self._core_index = _BlockIndex(np.asarray(self.components_, dtype=np.float64))
        near, dist = _nearest_within(index, uniq.values, float(self.eps))
        pred = np.full(uniq.values.shape[0], NOISE, dtype=np.int64)
        ok = near >= 0
        pred[ok] = self.component_labels_[near[ok]]
        pred, dist = pred[uniq.inverse], dist[uniq.inverse]
        return (pred, dist) if return_distance else pred


class _Components:
    """Connected components of n nodes fed edge blocks at a time (memory bounded by a buffer)."""

    def __init__(self, n: int, buffer: int | None = None):
        self.comp = np.arange(n)
        self.n = n
        self.buffer = _EDGE_BUFFER if buffer is None else buffer
        self._a: list[np.ndarray] = []
        self._b: list[np.ndarray] = []
        self._size = 0

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        a, b = self.comp[a], self.comp[b]
        keep = a != b
        if keep.any():
            self._a.append(a[keep])
            self._b.append(b[keep])
            self._size += int(keep.sum())
            if self._size >= self.buffer:
                self._flush()

    def _flush(self) -> None:
        if not self._a:
            return
        a, b = np.concatenate(self._a), np.concatenate(self._b)
        self._a, self._b, self._size = [], [], 0
        graph = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(self.n, self.n)).tocsr()
        _, cc = connected_components(graph, directed=False)
        self.comp = cc[self.comp]

    def labels(self) -> np.ndarray:
        """Component number per node, numbered by each component's lowest node index."""
        self._flush()
        if self.n == 0:
            return self.comp.copy()
        _, first_pos, inv = np.unique(self.comp, return_index=True, return_inverse=True)
        rank = np.empty(first_pos.size, dtype=np.int64)
        rank[np.argsort(first_pos, kind="stable")] = np.arange(first_pos.size)
        return rank[inv.ravel()]


def _radius_labels(index: "_BlockIndex", core_mask: np.ndarray, eps: float, quiet: bool = True) -> np.ndarray:
    """DBSCAN labels of one eps from the core flags: core components, then border points."""
    m = index.U.shape[0]
    labels = np.full(m, NOISE, dtype=np.int64)
    core_idx = np.flatnonzero(core_mask)
    if core_idx.size == 0:
        return labels
    cindex = index.subset(core_idx)
    comps = _Components(core_idx.size)
    for rows, cols, D in _progress(cindex.radius_blocks(eps), quiet, desc="core components", leave=False):
        r, c = np.nonzero(D <= eps)
        comps.add(rows[r], cols[c])
    core_labels = comps.labels()
    labels[core_idx] = core_labels
    non_core = np.flatnonzero(~core_mask)
    if non_core.size:
        nindex = index.subset(non_core)
        big = np.iinfo(np.int64).max
        best = np.full(non_core.size, big, dtype=np.int64)
        for rows, cols, D in cindex.radius_blocks(eps, Q=nindex.U, q_part=nindex.part):
            cand = np.where(D <= eps, core_labels[cols][None, :], big).min(axis=1)
            best[rows] = np.minimum(best[rows], cand)
        labels[non_core] = np.where(best == big, NOISE, best)
    return labels


def _nearest_within(index: "_BlockIndex", Q: np.ndarray, eps: float):
    """Nearest indexed row within ``eps`` of each query (lowest index among ties), or -1; and its distance."""
    q = Q.shape[0]
    near = np.full(q, -1, dtype=np.int64)
    dist = np.full(q, np.inf)
    if q == 0 or index.U.shape[0] == 0:
        return near, dist
    big = np.iinfo(np.int64).max
    for rows, cols, D in index.radius_blocks(eps, Q=Q):
        dmin = D.min(axis=1)
        jmin = np.where(D == dmin[:, None], cols[None, :], big).min(axis=1)
        better = (dmin < dist[rows]) | ((dmin == dist[rows]) & (jmin < near[rows]))
        near[rows[better]] = jmin[better]
        dist[rows[better]] = dmin[better]
    out_of_reach = dist > eps
    near[out_of_reach] = -1
    dist[out_of_reach] = np.inf
    return near, dist


class GridClustering:
    """DBSCAN (cosine) at every point of an (eps x min_samples) grid, sharing the work.

    One nearest-neighbour pass and one spanning tree per ``min_samples`` give
    the exact DBSCAN labels at every ``eps`` (see the module docstring).

    Parameters
    ----------
    eps_grid : eps values (cosine distance).
    min_samples_grid : min_samples values.
    quiet : no progress bars.

    Attributes (after :meth:`fit`)
    ------------------------------
    labels_ : (n_eps, n_min_samples, n) int32 cluster labels of the training vectors.
    core_ : (n_eps, n_min_samples, m) bool, core flags of the distinct vectors.
    n_distinct_ : m, the number of distinct training vectors.
    """

    def __init__(self, eps_grid=EPS_GRID, min_samples_grid=MIN_SAMPLES_GRID, quiet: bool = True):
        self.eps_grid = eps_grid
        self.min_samples_grid = min_samples_grid
        self.quiet = quiet

    @_single_blas
    def fit(self, X, sample_weight=None) -> "GridClustering":
        """Cluster the vectors ``X`` (n, d) at every grid point."""
        eps_grid = [float(e) for e in self.eps_grid]
        ms_grid = [int(s) for s in self.min_samples_grid]
        for e in eps_grid:
            for s in ms_grid:
                _check_params(e, s)
        uniq, weights = _prepare(X, sample_weight)
        U = uniq.values
        m = U.shape[0]
        k = min(m, max(ms_grid))
        index = _BlockIndex(U)
        nn_idx, nn_dist = index.kneighbors(k)
        labels_u = np.full((len(eps_grid), len(ms_grid), m), NOISE, dtype=np.int64)
        core = np.zeros((len(eps_grid), len(ms_grid), m), dtype=bool)
        max_eps = max(eps_grid)
        for j, s in enumerate(_progress(ms_grid, self.quiet, desc="min_samples", leave=False)):
            cdist = core_distances(nn_idx, nn_dist, weights, s)
            a, b, w = mutual_reachability_mst(U, cdist, max_eps, quiet=self.quiet)
            for i, e in enumerate(eps_grid):
                core_mask = cdist <= e
                keep = w <= e
                comp = _number_components(m, core_mask, a[keep], b[keep])
                labels_u[i, j] = _assign_border(comp, core_mask, nn_idx, nn_dist, e)
                core[i, j] = core_mask
        self._uniq = uniq
        self._index = index
        self._labels_u = labels_u
        self.core_ = core
        self.labels_ = labels_u[:, :, uniq.inverse].astype(np.int32)
        self.n_distinct_ = m
        self.eps_grid_ = tuple(eps_grid)
        self.min_samples_grid_ = tuple(ms_grid)
        return self

    @_single_blas
    def predict(self, X) -> np.ndarray:
        """Labels of new vectors at every grid point: nearest training core sample within eps.

        Returns
        -------
        (n_eps, n_min_samples, q) int32 array.
        """
        if not hasattr(self, "labels_"):
            raise ValueError("GridClustering is not fitted yet; call fit first")
        quniq = _unique_unit_rows(X)
        Q = quniq.values
        nn_idx, nn_dist = self._index.kneighbors(_PREDICT_NEIGHBOURS, Q)
        out = np.full((len(self.eps_grid_), len(self.min_samples_grid_), Q.shape[0]), NOISE, dtype=np.int64)
        for i, e in enumerate(self.eps_grid_):
            for j, _ in enumerate(self.min_samples_grid_):
                out[i, j], _ = _predict_from_neighbours(nn_idx, nn_dist, Q, self._index, self.core_[i, j], self._labels_u[i, j], e)
        return out[:, :, quniq.inverse].astype(np.int32)

    def estimator(self, eps: float, min_samples: int) -> CosineDBSCAN:
        """A fitted :class:`CosineDBSCAN` for one grid point (for saving or predicting)."""
        i = self.eps_grid_.index(float(eps))
        j = self.min_samples_grid_.index(int(min_samples))
        est = CosineDBSCAN(eps=float(eps), min_samples=int(min_samples), quiet=self.quiet)
        est._set_fitted(self._uniq, self.core_[i, j], self._labels_u[i, j], self._index)
        return est


def cluster_grid(X, eps_grid=EPS_GRID, min_samples_grid=MIN_SAMPLES_GRID, quiet: bool = True) -> GridClustering:
    """Fit a :class:`GridClustering` on the vectors ``X`` (n, d); see its docstring."""
    return GridClustering(eps_grid, min_samples_grid, quiet=quiet).fit(X)
