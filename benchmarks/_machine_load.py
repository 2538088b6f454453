"""Other processes' CPU time during a benchmark (imported by the
benchmarks, not a benchmark)."""
import os
import time


class OtherLoad:
    """CPU time that other processes used during a ``with`` block (Linux
    ``/proc/stat``), to tell whether timings were disturbed."""

    def __enter__(self):
        self.start = _machine_busy_s(), _own_cpu_s(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        busy, own, wall = (_machine_busy_s(), _own_cpu_s(),
                           time.perf_counter())
        self.wall = wall - self.start[2]
        self.other = None
        if busy is not None:
            self.other = max(0., (busy - self.start[0]) -
                             (own - self.start[1]))
        return False

    def describe(self) -> str:
        if self.other is None:
            return 'unknown (no /proc/stat)'
        cores = os.cpu_count()
        return (f'{self.other:.1f} CPU-s of {self.wall * cores:.1f} '
                f'({100 * self.other / (self.wall * cores):.0f}% of '
                f'{cores} cores)')


def _machine_busy_s():
    try:
        with open('/proc/stat') as file:
            ticks = [int(v) for v in file.readline().split()[1:9]]
    except OSError:
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]  # minus idle and iowait
    return busy / os.sysconf('SC_CLK_TCK')


def _own_cpu_s():
    """CPU time of this process and of its children that ended."""
    times = os.times()
    return (times.user + times.system + times.children_user +
            times.children_system)
