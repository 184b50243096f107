"""What a therapy program delivers over time, worked out on the host by the firmware's own planner."""
from host_tools import paths
from host_tools.program_file import board_config, drug_library

MS_PER_DAY = 86400000
_UNITS_PER_UL = 86400000 * 1000     # planner volume units (nL/day x ms) in one uL


class ProgramInvalid(Exception):
    """The program document does not compile for this board: problems is the pump's list."""

    def __init__(self, problems):
        Exception.__init__(self, "; ".join("%s: %s" % (p, m) for p, m in problems))
        self.problems = problems


class Programmed:
    """A program pinned to its start (local wall ms, as the pump's status gives it).

    volume_ul(t_ms) is what the program owes from its start to program time t_ms: the catheter
    (priming or bridge) bolus, the basal schedule and temporary rate, and the periodic boluses.
    Demand and clinician boluses are requests, not the program, so they are not in it.
    """

    def __init__(self, doc, board, start_wall_ms):
        paths.use_firmware_modules()
        from pump import planner, program
        try:
            compiled = program.compile_program(doc, board_config(board), drug_library())
        except program.ProgramError as e:
            raise ProgramInvalid(e.problems)
        self.program = compiled
        self.start_wall_ms = start_wall_ms
        self._plan = planner.Plan(compiled, start_wall_ms)

    def volume_ul(self, t_ms):
        return self._plan.ideal(int(t_ms)) / _UNITS_PER_UL

    def basal_ul_h(self, t_ms):
        """The basal rate (schedule or temporary rate) at program time t_ms, in uL/h."""
        rate_nl_day, _ = self._plan.basal_at(int(t_ms))
        return rate_nl_day / 24000.0

    def day_steps(self, t_ms):
        """[(from_ms, to_ms, uL/h)] of the local day holding program time t_ms, from its midnight
        (ms after midnight; before the program started, the rate it started with)."""
        wall = self.start_wall_ms + int(t_ms)
        midnight = wall - wall % MS_PER_DAY
        out = []
        at = midnight
        while at < midnight + MS_PER_DAY:
            rate_nl_day, next_t = self._plan.basal_at(max(at - self.start_wall_ms, 0))
            end = min(self.start_wall_ms + next_t, midnight + MS_PER_DAY) if at >= self.start_wall_ms \
                else min(self.start_wall_ms, midnight + MS_PER_DAY)
            if end <= at:           # a rate change exactly now: step past it
                end = at + 1
            rate = rate_nl_day / 24000.0
            if out and out[-1][2] == rate:
                out[-1] = (out[-1][0], end - midnight, rate)
            else:
                out.append((at - midnight, end - midnight, rate))
            at = end
        return out

    def day_boluses(self, t_ms):
        """[(from_ms, to_ms, uL)] of the periodic boluses starting in the local day holding
        program time t_ms (ms after midnight; a bolus may run past midnight)."""
        per = self.program.periodic
        if per is None:
            return []
        wall = self.start_wall_ms + int(t_ms)
        midnight = wall - wall % MS_PER_DAY
        out = []
        start = self._plan.next_periodic(max(midnight - self.start_wall_ms, 0))
        while start is not None and self.start_wall_ms + start < midnight + MS_PER_DAY:
            at = self.start_wall_ms + start - midnight
            out.append((at, at + per.duration_ms, per.volume_nl / 1000.0))
            start = self._plan.next_periodic(start + 1)
        return out
