"""A small sparse model builder over HiGHS (linear and mixed-integer programs).

Columns and rows are collected in plain lists and handed to HiGHS in one call, which is far
faster than building expression objects one term at a time. Every solve is single-threaded:
the planner runs independent parts of a problem side by side instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import highspy
import numpy as np

INF = highspy.kHighsInf


class Status(StrEnum):
    OPTIMAL = "optimal"
    # stopped by its time limit with a feasible solution
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    # stopped by its time limit with no feasible solution, or another failure
    FAILED = "failed"


@dataclass
class Result:
    status: Status
    values: np.ndarray
    objective: float
    # the best proven bound (equal to the objective when optimal)
    bound: float
    seconds: float

    @property
    def gap(self) -> float:
        """Relative gap between the solution and the proven bound."""
        if self.status not in (Status.OPTIMAL, Status.TIME_LIMIT):
            return float("inf")
        return abs(self.objective - self.bound) / max(abs(self.objective), 1.0)


class Model:
    """Columns with bounds, costs and integrality; rows ``lower <= a·x <= upper``."""

    def __init__(self) -> None:
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.cost: list[float] = []
        self.integer: list[bool] = []
        self._row_lower: list[float] = []
        self._row_upper: list[float] = []
        self._starts: list[int] = [0]
        self._index: list[int] = []
        self._value: list[float] = []

    @property
    def num_cols(self) -> int:
        return len(self.cost)

    def var(self, lower: float, upper: float, cost: float = 0.0, *, integer: bool = False) -> int:
        self.lower.append(lower)
        self.upper.append(upper)
        self.cost.append(cost)
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, index: Sequence[int], value: Sequence[float], lower: float, upper: float) -> None:
        self._row_lower.append(lower)
        self._row_upper.append(upper)
        self._index.extend(index)
        self._value.extend(value)
        self._starts.append(len(self._index))

    def _lp(self, *, maximise: bool) -> highspy.HighsLp:
        lp = highspy.HighsLp()
        lp.num_col_ = self.num_cols
        lp.num_row_ = len(self._row_lower)
        lp.col_cost_ = np.asarray(self.cost, dtype=np.float64)
        lp.col_lower_ = np.asarray(self.lower, dtype=np.float64)
        lp.col_upper_ = np.asarray(self.upper, dtype=np.float64)
        lp.row_lower_ = np.asarray(self._row_lower, dtype=np.float64)
        lp.row_upper_ = np.asarray(self._row_upper, dtype=np.float64)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.asarray(self._starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.asarray(self._index, dtype=np.int32)
        lp.a_matrix_.value_ = np.asarray(self._value, dtype=np.float64)
        lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
        return lp

    def relaxation(self) -> Relaxation:
        """The linear relaxation, kept loaded so it can be solved again with other costs
        (each solve starts from the last basis)."""
        return Relaxation(self._lp(maximise=False))

    def solve(
        self,
        *,
        maximise: bool = False,
        time_limit: float = 60.0,
        gap: float = 1e-4,
        start: np.ndarray | None = None,
        relax: bool = False,
    ) -> Result:
        """Solve; ``relax`` drops integrality (the linear relaxation)."""
        began = time.perf_counter()
        lp = self._lp(maximise=maximise)
        mip = not relax and any(self.integer)
        if mip:
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                for i in self.integer
            ]
        h = _highs()
        h.setOptionValue("time_limit", max(time_limit, 0.01))
        h.setOptionValue("mip_rel_gap", gap)
        h.passModel(lp)
        if mip and start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = list(map(float, start))
            solution.value_valid = True
            h.setSolution(solution)
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        values = np.asarray(h.getSolution().col_value, dtype=np.float64)
        objective = float(info.objective_function_value)
        bound = float(info.mip_dual_bound) if mip else objective
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        if status == highspy.HighsModelStatus.kOptimal:
            # for a program with integers: optimal within the gap asked for
            result_status = Status.OPTIMAL
        elif status == highspy.HighsModelStatus.kInfeasible:
            result_status = Status.INFEASIBLE
        elif has_solution:
            result_status = Status.TIME_LIMIT
        else:
            result_status = Status.FAILED
        if not np.isfinite(bound):
            bound = objective if result_status == Status.OPTIMAL else bound
        return Result(result_status, values, objective, bound, time.perf_counter() - began)


def _highs() -> highspy.Highs:
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 7)
    return h


class Relaxation:
    """A linear program loaded once and solved repeatedly with changing costs."""

    def __init__(self, lp: highspy.HighsLp) -> None:
        self._h = _highs()
        self._h.passModel(lp)
        self._n = lp.num_col_

    def solve(self, cost: np.ndarray) -> np.ndarray | None:
        """The optimal vertex for ``cost`` (minimised), or None when there is none."""
        self._h.changeColsCost(self._n, np.arange(self._n, dtype=np.int32), cost)
        self._h.run()
        if self._h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(self._h.getSolution().col_value, dtype=np.float64)
