"""Statistical disclosure control for ``export --profile stats``: small counts are names.

``protect`` turns count tables into published tables with every margin and the grand
total as rows, suppressing every count below ``k`` (primary) and then more cells
(secondary) until linear programming shows that no suppressed cell can be worked out
from what is published. ``audit`` repeats that check on the exact tables about to be
written, knowing only what they publish, and refuses with ``DisclosureRisk``.

The model: every quantity is a count of one unit (``Table.unit``) over a set of
dimension values, named by that set (``{country: BI}`` is the country margin whichever
table it appears in). Tables of the same unit share the quantities they have in common
(their common margins, at least the grand total) and are protected together, in one
system of additive constraints: a margin equals the sum of its cells along each
dimension it leaves open. Suppressed quantities are the unknowns, published ones are
constants, every unknown is nonnegative.

Protection rules (docs/export-profiles.md, "Statistics: suppression"):

* a secondary cell's feasible range holds at least two whole numbers;
* a primary cell's feasible range reaches down to 0 and up to ``k`` or more, so the
  published tables show neither that the cell is non-empty nor that it is small.

Ranges come from the LP relaxation (HiGHS through ``scipy.optimize.linprog``), with
the bounds rounded inwards to whole numbers. Feasible points found along the way prove
bounds for many cells at once; a cell gets its own LP only when none of them did.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from reprisal_report.errors import DisclosureRisk, InvalidInput

ALL: Final = "*"
"""The key value of a dimension summed over (margins, the grand total)."""

TIMES: Final = "\N{MULTIPLICATION SIGN}"
PRIMARY: Final = "primary"
SECONDARY: Final = "secondary"
RESERVED_NAMES: Final = frozenset({"count", "suppressed"})

_EPS: Final = 1e-6
_Reason = Literal["exact", "low", "high"]
_Ref = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    """One table of counts to publish: inner cells only; margins are computed.

    ``cases``: for a unit that is not the case (case-act pairs), how many distinct
    cases each cell and margin (keys with ``"*"``) counts; a count of k pairs or more
    that comes from fewer than k cases is small too (primary). None: each counted item
    is a case of its own."""

    by: tuple[str, ...]
    unit: str
    cells: Mapping[tuple[str, ...], int]
    cases: Mapping[tuple[str, ...], int] | None = None


@dataclass(frozen=True)
class Cell:
    """One published row: a value per dimension (``"*"`` for all), its count or why not."""

    key: tuple[str, ...]
    count: int | None
    suppressed: str | None


@dataclass(frozen=True)
class ProtectedTable:
    """Inner cells, every margin and the grand total, in a fixed order; ``few``: the
    keys whose count is k or more but comes from fewer than k cases (never published)."""

    by: tuple[str, ...]
    unit: str
    cells: list[Cell]
    few: frozenset[tuple[str, ...]] = frozenset()


def label(by: Sequence[str]) -> str:
    """How messages name a table: ``country×year`` (the multiplication sign)."""  # noqa: RUF002
    return TIMES.join(by)


def describe(by: Sequence[str], key: Sequence[str]) -> str:
    """How messages name a cell: ``country=BI year=*`` (never its count)."""
    return " ".join(f"{d}={v}" for d, v in zip(by, key, strict=True))


# --- the system of one unit -------------------------------------------------------------


@dataclass
class _Group:
    """Every quantity of one counting unit and the additive constraints between them."""

    unit: str
    refs: list[_Ref] = field(default_factory=list)
    index: dict[_Ref, int] = field(default_factory=dict)
    where: list[tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    # (parent, children): parent == sum(children); deduplicated.
    constraints: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    seen: set[tuple[int, frozenset[int]]] = field(default_factory=set)
    member_of: list[list[int]] = field(default_factory=list)

    def quantity(self, by: tuple[str, ...], key: tuple[str, ...]) -> int:
        ref = frozenset((d, v) for d, v in zip(by, key, strict=True) if v != ALL)
        found = self.index.get(ref)
        if found is None:
            found = len(self.refs)
            self.refs.append(ref)
            self.index[ref] = found
            self.where.append((by, key))
            self.member_of.append([])
        return found

    def add_table(self, by: tuple[str, ...], domains: Sequence[Sequence[str]]) -> list[int]:
        """Register a table's cells (canonical order) and its constraints."""
        order = _canonical_keys(domains)
        ids = [self.quantity(by, key) for key in order]
        for key in order:
            for axis, value in enumerate(key):
                if value != ALL:
                    continue
                children = tuple(
                    self.quantity(by, (*key[:axis], v, *key[axis + 1 :])) for v in domains[axis]
                )
                parent = self.quantity(by, key)
                signature = (parent, frozenset(children))
                if signature in self.seen:
                    continue
                self.seen.add(signature)
                number = len(self.constraints)
                self.constraints.append((parent, children))
                for member in (parent, *children):
                    self.member_of[member].append(number)
        return ids

    def members(self, constraint: int) -> tuple[int, ...]:
        parent, children = self.constraints[constraint]
        return (parent, *children)


def _canonical_keys(domains: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """Every key of a table, each group followed by its subtotal: (BI,2025) (BI,*) (*,*)."""
    return list(itertools.product(*[[*values, ALL] for values in domains]))


def _sort_values(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


# --- feasible ranges ----------------------------------------------------------------------


class _Infeasible(Exception):
    """The published values admit no nonnegative table (they do not add up)."""

    def __init__(self, variable: int) -> None:
        super().__init__(variable)
        self.variable = variable


# scipy is imported when a linear program is first needed: its import takes most of a
# second, and tables with nothing suppressed need none.


def _linprog(*args: object, **kwargs: object) -> object:
    from scipy.optimize import linprog  # type: ignore[import-untyped]

    return linprog(*args, **kwargs)


def _csr(data: object, rows: object, cols: object, shape: tuple[int, int]) -> object:
    from scipy.sparse import coo_array  # type: ignore[import-untyped]

    return coo_array((data, (rows, cols)), shape=shape).tocsr()


def _solve(
    objective: NDArray[np.float64],
    matrix: object,
    rhs: NDArray[np.float64],
    upper: NDArray[np.float64],
) -> NDArray[np.float64] | None:
    """One HiGHS solve; the optimal point, or None when infeasible."""
    result: Any = _linprog(
        objective,
        A_eq=matrix if rhs.size else None,
        b_eq=rhs if rhs.size else None,
        bounds=np.column_stack([np.zeros(len(upper)), upper]),
        method="highs",
    )
    if result.status == 2:
        return None
    if result.status != 0 or result.x is None:
        # Every objective here is bounded (capped maxima, nonnegative minima); anything
        # else is a solver failure, and a failure must not pass as protection.
        raise DisclosureRisk("statistics: the linear program did not solve; nothing was written")
    point: NDArray[np.float64] = np.asarray(result.x, dtype=np.float64)
    return point


def _failures(
    group: _Group,
    values: Sequence[int | None],
    kinds: Sequence[str | None],
    k: int,
    check: Iterable[int],
    truth: Sequence[int] | None = None,
) -> list[tuple[int, _Reason]]:
    """The suppressed quantities among ``check`` whose feasible range breaks the rules.

    ``values`` holds the published count, or None for a suppressed quantity; ``kinds``
    says ``primary``/``secondary`` for those. ``truth``, when known (in ``protect``), is
    a feasible point that saves the first LP of each component.
    """
    suppressed = [i for i, v in enumerate(values) if v is None]
    position = {q: n for n, q in enumerate(suppressed)}
    parent_of = list(range(len(suppressed)))

    def find(n: int) -> int:
        while parent_of[n] != n:
            parent_of[n] = parent_of[parent_of[n]]
            n = parent_of[n]
        return n

    rows: list[tuple[list[tuple[int, float]], float, int]] = []
    for parent, children in group.constraints:
        terms = [(parent, 1.0), *((c, -1.0) for c in children)]
        unknown = [(position[q], s) for q, s in terms if values[q] is None]
        known = sum(s * float(v) for q, s in terms if (v := values[q]) is not None)
        if not unknown:
            if abs(known) > _EPS:
                raise _Infeasible(parent)
            continue
        rows.append((unknown, -known, parent))
        first = find(unknown[0][0])
        for n, _ in unknown[1:]:
            other = find(n)
            if other != first:
                parent_of[other] = first

    wanted = {position[q] for q in check if q in position}
    components: dict[int, list[int]] = {}
    for n in range(len(suppressed)):
        components.setdefault(find(n), []).append(n)
    component_rows: dict[int, list[int]] = {}
    for r, (unknown, _, _) in enumerate(rows):
        component_rows.setdefault(find(unknown[0][0]), []).append(r)

    failed: list[tuple[int, _Reason]] = []
    for root, local in sorted(components.items(), key=lambda item: item[1][0]):
        targets = [n for n in local if n in wanted]
        if not targets:
            continue
        failed.extend(
            (suppressed[n], reason)
            for n, reason in _component_failures(
                local,
                [rows[r] for r in component_rows.get(root, [])],
                [kinds[suppressed[n]] == PRIMARY for n in local],
                targets,
                k,
                None if truth is None else [float(truth[suppressed[n]]) for n in local],
                suppressed,
            )
        )
    return sorted(failed)


def _component_failures(
    local: list[int],
    rows: list[tuple[list[tuple[int, float]], float, int]],
    primary: list[bool],
    targets: list[int],
    k: int,
    seed: list[float] | None,
    suppressed: list[int],
) -> list[tuple[int, _Reason]]:
    size = len(local)
    at = {n: j for j, n in enumerate(local)}
    data, row_index, col_index = [], [], []
    rhs = np.empty(len(rows), dtype=np.float64)
    for r, (unknown, b, _) in enumerate(rows):
        rhs[r] = b
        for n, s in unknown:
            data.append(s)
            row_index.append(r)
            col_index.append(at[n])
    matrix = _csr(data, row_index, col_index, (len(rows), size))
    no_cap = np.full(size, math.inf)

    if seed is None:
        start = _solve(np.zeros(size), matrix, rhs, no_cap)
        if start is None:
            raise _Infeasible(suppressed[local[0]])
    else:
        start = np.asarray(seed, dtype=np.float64)
    low = start.copy()
    high = start.copy()

    def record(point: NDArray[np.float64]) -> None:
        np.minimum(low, point, out=low)
        np.maximum(high, point, out=high)

    def up_target(j: int) -> float:
        return float(k) if primary[j] else math.ceil(low[j] - _EPS) + 1.0

    def needs_up(j: int) -> bool:
        if primary[j]:
            return bool(high[j] < k - _EPS)
        return spread(j) < 1

    def needs_down(j: int) -> bool:
        if primary[j]:
            return bool(low[j] > _EPS)
        return spread(j) < 1

    def spread(j: int) -> int:
        # Whole numbers in the range proved so far, less one.
        return math.floor(float(high[j]) + _EPS) - math.ceil(float(low[j]) - _EPS)

    todo = [at[n] for n in targets]
    weights = np.random.default_rng(len(local)).uniform(1.0, 2.0, size)

    def push(js: list[int], upwards: bool) -> bool:
        """Move the cells ``js`` towards their targets together; False if that is void."""
        objective = np.zeros(size)
        cap = no_cap.copy()
        for j in js:
            objective[j] = -weights[j] if upwards else weights[j]
            if upwards:
                # Capped at the target: bounded, and a cap at or above a value already
                # seen keeps one cell's push feasible. Several caps together may not.
                cap[j] = max(up_target(j), high[j])
        point = _solve(objective, matrix, rhs, cap)
        if point is None:
            if len(js) == 1:
                raise _Infeasible(suppressed[local[js[0]]])
            return False
        record(point)
        return True

    # Pooled pushes certify many cells at once; stop when a round certifies none.
    while True:
        before = sum(needs_up(j) or needs_down(j) for j in todo)
        if before == 0:
            return []
        ups = [j for j in todo if needs_up(j)]
        if ups and not push(ups, upwards=True):
            break
        downs = [j for j in todo if needs_down(j)]
        if downs:
            push(downs, upwards=False)
        if sum(needs_up(j) or needs_down(j) for j in todo) == before:
            break

    failed: list[tuple[int, _Reason]] = []
    for j in todo:
        if needs_up(j):
            push([j], upwards=True)
        if needs_down(j):
            push([j], upwards=False)
        if primary[j]:
            if spread(j) < 1:
                failed.append((local[j], "exact"))
            elif needs_down(j):
                failed.append((local[j], "low"))
            elif needs_up(j):
                failed.append((local[j], "high"))
        elif needs_up(j):
            failed.append((local[j], "exact"))
    return failed


# --- protect ------------------------------------------------------------------------------


def _validate(tables: Sequence[Table], k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput("statistics: the small-cell threshold k must be a whole number >= 1")
    for table in tables:
        if not table.by:
            raise InvalidInput("statistics: a table needs at least one dimension")
        if len(set(table.by)) != len(table.by):
            raise InvalidInput(f"statistics: table {label(table.by)} repeats a dimension")
        for name in table.by:
            if name in RESERVED_NAMES or not name or name == ALL:
                raise InvalidInput(f"statistics: {name!r} cannot name a dimension")
        for key, count in table.cells.items():
            if len(key) != len(table.by):
                raise InvalidInput(
                    f"statistics: table {label(table.by)} has a key of the wrong length"
                )
            if ALL in key:
                raise InvalidInput(
                    f"statistics: table {label(table.by)} has a value {ALL!r}, which means all"
                )
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise InvalidInput(
                    f"statistics: table {label(table.by)} has a count that is not a whole "
                    "number >= 0"
                )
        for key, cases in (table.cases or {}).items():
            if len(key) != len(table.by):
                raise InvalidInput(
                    f"statistics: table {label(table.by)} has a case count of the wrong length"
                )
            if isinstance(cases, bool) or not isinstance(cases, int) or cases < 0:
                raise InvalidInput(
                    f"statistics: table {label(table.by)} has a case count that is not a "
                    "whole number >= 0"
                )


def protect(tables: Sequence[Table], k: int = 5) -> list[ProtectedTable]:
    """Publishable tables: margins and totals added, small and recoverable cells hidden."""
    _validate(tables, k)
    out: list[ProtectedTable | None] = [None] * len(tables)
    units: dict[str, list[int]] = {}
    for number, table in enumerate(tables):
        units.setdefault(table.unit, []).append(number)
    for unit, numbers in units.items():
        group = _Group(unit)
        layout: list[tuple[list[tuple[str, ...]], list[int]]] = []
        truth_of: dict[int, int] = {}
        few: set[int] = set()
        for number in numbers:
            table = tables[number]
            domains = [
                _sort_values(key[axis] for key in table.cells) for axis in range(len(table.by))
            ]
            ids = group.add_table(table.by, domains)
            keys = _canonical_keys(domains)
            layout.append((keys, ids))
            totals = _totals(table)
            for key, q in zip(keys, ids, strict=True):
                count = totals.get(key, 0)
                cases = count if table.cases is None else table.cases.get(key, 0)
                if cases > count:
                    raise InvalidInput(
                        f"statistics: table {label(table.by)} counts more cases than items "
                        f"in cell {describe(table.by, key)}"
                    )
                if count >= k and 0 < cases < k:
                    few.add(q)
                previous = truth_of.setdefault(q, count)
                if previous != count:
                    first_by, first_key = group.where[q]
                    raise DisclosureRisk(
                        f"statistics: tables {label(first_by)} and {label(table.by)} count "
                        f"the same unit but disagree on cell "
                        f"{describe(first_by, first_key)}; nothing was written"
                    )
        truth = [truth_of[q] for q in range(len(group.refs))]
        try:
            kinds = _suppress(group, truth, k, few)
        except _Infeasible:  # the true table always fits its own totals
            raise DisclosureRisk(
                "statistics: the linear program found the true table infeasible; "
                "nothing was written"
            ) from None
        for (keys, ids), number in zip(layout, numbers, strict=True):
            table = tables[number]
            cells = [
                Cell(key, None, kind) if (kind := kinds[q]) else Cell(key, truth[q], None)
                for key, q in zip(keys, ids, strict=True)
            ]
            mine = frozenset(key for key, q in zip(keys, ids, strict=True) if q in few)
            out[number] = ProtectedTable(table.by, table.unit, cells, mine)
    return [t for t in out if t is not None]


def _totals(table: Table) -> dict[tuple[str, ...], int]:
    """Every cell and margin of a table that is not 0, summed from its inner cells."""
    totals: dict[tuple[str, ...], int] = {}
    axes = range(len(table.by))
    for inner, count in table.cells.items():
        for mask in itertools.product((False, True), repeat=len(table.by)):
            key = tuple(ALL if mask[a] else inner[a] for a in axes)
            totals[key] = totals.get(key, 0) + count
    return totals


def _suppress(group: _Group, truth: list[int], k: int, few: set[int]) -> list[str | None]:
    """Primary (below k, or from fewer than k cases: ``few``), then secondary
    suppression until every suppressed cell keeps its range."""
    kinds: list[str | None] = [
        PRIMARY if 0 < c < k or q in few else None for q, c in enumerate(truth)
    ]

    def cost(q: int) -> tuple[bool, int, int]:
        # A suppressed 0 can only rise, so it protects in one direction only: last.
        return (truth[q] == 0, truth[q], q)

    def add(q: int) -> None:
        kinds[q] = SECONDARY

    def close_singletons() -> list[int]:
        """A constraint with one unknown gives it away: add its cheapest partner."""
        added: list[int] = []
        queue = list(range(len(group.constraints)))
        while queue:
            c = queue.pop()
            members = group.members(c)
            hidden = [m for m in members if kinds[m] is not None]
            if len(hidden) != 1:
                continue
            shown = [m for m in members if kinds[m] is None]
            if not shown:
                continue
            pick = min(shown, key=cost)
            add(pick)
            added.append(pick)
            queue.extend(group.member_of[pick])
        return added

    repair = _Repair(group, truth, k)
    close_singletons()
    check: set[int] = {q for q, kind in enumerate(kinds) if kind is not None}
    while check:
        values = [None if kinds[q] else truth[q] for q in range(len(truth))]
        failing = _failures(group, values, kinds, k, sorted(check), truth)
        if not failing:
            break
        added: list[int] = []
        for q, reason in failing:
            for pick in repair.cells_to_add(q, reason, kinds):
                add(pick)
                added.append(pick)
        added.extend(close_singletons())
        check = {q for q, _ in failing} | set(added)
    return kinds


class _Repair:
    """The cheapest cells whose suppression lets one failing cell move as far as it must.

    One LP over every quantity of the unit: a change ``d`` to the true table that keeps
    it additive and nonnegative, moves the failing cell to its target (0 or ``k`` for a
    primary cell, one up or down for a secondary one) and costs ``count + 1`` for each
    unit moved in a published cell (next to nothing in a suppressed one). The published
    cells it moves are suppressed: then ``truth + d`` agrees with everything published,
    so the failing bound is met (Kelly, Golden and Assad's one-LP-per-cell heuristic).
    """

    def __init__(self, group: _Group, truth: list[int], k: int) -> None:
        self.group = group
        self.truth = np.asarray(truth, dtype=np.float64)
        self.k = k
        size = len(truth)
        data: list[float] = []
        rows: list[int] = []
        cols: list[int] = []
        for r, (parent, children) in enumerate(group.constraints):
            for q, sign in ((parent, 1.0), *((c, -1.0) for c in children)):
                data.extend((sign, -sign))
                rows.extend((r, r))
                cols.extend((q, size + q))
        shape = (len(group.constraints), 2 * size)
        self.matrix = _csr(data, rows, cols, shape)
        self.rhs = np.zeros(len(group.constraints))

    def cells_to_add(self, q: int, reason: _Reason, kinds: Sequence[str | None]) -> list[int]:
        size = len(self.truth)
        hidden = np.array([kind is not None for kind in kinds])
        weight = np.where(hidden, 1e-3, self.truth + 1.0)
        objective = np.concatenate([weight, weight])
        # d = up - down; up >= 0, 0 <= down <= truth (the table stays nonnegative).
        upper = np.concatenate([np.full(size, math.inf), self.truth])
        lower = np.zeros(2 * size)
        small = 0 < self.truth[q] < self.k
        moves = (
            [self.k - self.truth[q]]
            if reason == "high" or (reason == "exact" and small)
            else [-self.truth[q]]
            if reason == "low"
            else [1.0, -1.0]
        )
        for move in moves:
            lower_q = lower.copy()
            upper_q = upper.copy()
            lower_q[q] = upper_q[q] = max(move, 0.0)
            lower_q[size + q] = upper_q[size + q] = max(-move, 0.0)
            result: Any = _linprog(
                objective,
                A_eq=self.matrix,
                b_eq=self.rhs,
                bounds=np.column_stack([lower_q, upper_q]),
                method="highs",
            )
            if result.status == 0 and result.x is not None:
                change = np.abs(result.x[:size] - result.x[size:])
                return [int(j) for j in np.flatnonzero((change > _EPS) & ~hidden)]
        by, key = self.group.where[q]
        raise DisclosureRisk(
            f"statistics: cell {describe(by, key)} of table {label(by)} cannot be "
            "protected; nothing was written"
        )


# --- audit --------------------------------------------------------------------------------


def audit(tables: Sequence[ProtectedTable], k: int) -> None:
    """Refuse (``DisclosureRisk``) unless the tables as written keep every rule."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput("statistics: the small-cell threshold k must be a whole number >= 1")
    units: dict[str, list[ProtectedTable]] = {}
    for table in tables:
        units.setdefault(table.unit, []).append(table)
    for unit, members in units.items():
        group = _Group(unit)
        published: dict[int, int] = {}
        kinds: dict[int, str] = {}
        for table in members:
            _audit_cells(table, k)
            inner = [c.key for c in table.cells if ALL not in c.key]
            domains = [_sort_values(key[a] for key in inner) for a in range(len(table.by))]
            expected = _canonical_keys(domains)
            by_key = {c.key: c for c in table.cells}
            if len(by_key) != len(table.cells) or set(by_key) != set(expected):
                raise DisclosureRisk(
                    f"statistics audit: table {label(table.by)} does not have every cell, "
                    "margin and total exactly once; nothing was written"
                )
            ids = group.add_table(table.by, domains)
            for key, q in zip(expected, ids, strict=True):
                cell = by_key[key]
                if cell.count is None:
                    kinds[q] = PRIMARY if kinds.get(q) == PRIMARY else str(cell.suppressed)
                    continue
                if published.setdefault(q, cell.count) != cell.count:
                    first_by, first_key = group.where[q]
                    raise DisclosureRisk(
                        f"statistics audit: tables of unit {unit} disagree on cell "
                        f"{describe(first_by, first_key)} of table {label(first_by)}; "
                        "nothing was written"
                    )
        for q in sorted(set(kinds) & set(published)):
            by, key = group.where[q]
            raise DisclosureRisk(
                f"statistics audit: suppressed cell {describe(by, key)} of table {label(by)} "
                "is published in another table; nothing was written"
            )
        size = len(group.refs)
        values: list[int | None] = [published.get(q) for q in range(size)]
        kind_list: list[str | None] = [
            None if values[q] is not None else kinds.get(q) for q in range(size)
        ]
        try:
            failing = _failures(group, values, kind_list, k, range(size))
        except _Infeasible as error:
            by, _ = group.where[error.variable]
            raise DisclosureRisk(
                f"statistics audit: the published cells of table {label(by)} do not add "
                "up; nothing was written"
            ) from None
        for q, reason in failing:
            by, key = group.where[q]
            what = {
                "exact": "can be recomputed exactly",
                "low": "can be shown to be nonzero",
                "high": "can be shown to be below k",
            }[reason]
            raise DisclosureRisk(
                f"statistics audit: suppressed cell {describe(by, key)} of table {label(by)} "
                f"{what}; nothing was written"
            )


def _audit_cells(table: ProtectedTable, k: int) -> None:
    for cell in table.cells:
        if len(cell.key) != len(table.by):
            raise DisclosureRisk(
                f"statistics audit: table {label(table.by)} has a row of the wrong shape; "
                "nothing was written"
            )
        where = f"{describe(table.by, cell.key)} of table {label(table.by)}"
        if cell.count is None:
            if cell.suppressed not in (PRIMARY, SECONDARY):
                raise DisclosureRisk(
                    f"statistics audit: cell {where} has no count and no reason; "
                    "nothing was written"
                )
            continue
        if cell.suppressed is not None or isinstance(cell.count, bool) or cell.count < 0:
            raise DisclosureRisk(
                f"statistics audit: cell {where} is malformed; nothing was written"
            )
        if 0 < cell.count < k:
            raise DisclosureRisk(
                f"statistics audit: published cell {where} is below k; nothing was written"
            )
        if cell.key in table.few:
            raise DisclosureRisk(
                f"statistics audit: published cell {where} counts fewer than k cases; "
                "nothing was written"
            )


# --- JSON ---------------------------------------------------------------------------------


def to_json(tables: Sequence[ProtectedTable], k: int) -> dict[str, object]:
    """The ``stats`` JSON document, less ``withheld`` (the caller adds it)."""
    rendered: list[dict[str, object]] = []
    for table in tables:
        rows: list[dict[str, object]] = []
        for cell in table.cells:
            row: dict[str, object] = dict(zip(table.by, cell.key, strict=True))
            row["count"] = cell.count
            if cell.count is None:
                row["suppressed"] = cell.suppressed
            rows.append(row)
        rendered.append({"by": list(table.by), "unit": table.unit, "cells": rows})
    return {"profile": "stats", "k": k, "tables": rendered}
