"""Test-only: a tool (``tools/train.py``, ``tools/cluster_images.py``)
run many times, each run a process forked from one Python that has
imported mmodc (and with it torch, MMEngine and MMPretrain) once, so that
a test of many short runs does not pay those seconds of start-up every
time.

Each run is a process of its own, like ``python tools/TOOL.py ARGS``: a
child forked from the preloaded server, with the arguments as
``sys.argv``, ``tools/`` first on ``sys.path``, its own environment
variables added, stdout and stderr to files, ending through the exit
handlers as a Python process does; its exit status is the child's
(``-9`` when it was killed with SIGKILL). What is read when a module is
imported comes from the server's environment: the variables a run adds
must be read later (tests/kill_hook.py, imported through the config's
``custom_imports``, is imported by each run itself).

The server imports modules only (no tensor work) and runs with
``OMP_NUM_THREADS=1``, so that it has a single thread when it forks (no
OpenMP or OpenBLAS pool is forked; it checks): the runs use one thread.

Usage::

    with ForkedTrain() as forked:
        result = forked.train(config, work_dir, '--resume',
                              env=dict(MMODC_KILL_AT='after_iter:3'))
    with ForkedTool(CLUSTER_IMAGES, env=clean_env()) as tool:
        result = tool.run(folder, '--work-dir', out, '--train', config)
"""
import atexit
import importlib
import json
import os
import os.path as osp
import runpy
import shutil
import subprocess
import sys
import tempfile
import traceback
from typing import Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(REPO, 'tools', 'train.py')
# what a training run imports (the rest it imports itself)
PRELOADED = ('mmengine.runner', 'mmpretrain', 'mmodc', 'mmodc.engine',
             'mmodc.models', 'mmodc.datasets', 'mmodc.evaluation',
             'mmodc.clustering', 'faiss', 'matplotlib')


class ForkedTool:
    """A server (this file run as a script) that has imported
    ``preload``, for ``script`` and its runs; the server's environment is
    ``env`` (default: this process's, the repository and tests/ on
    ``PYTHONPATH``) with one OpenMP thread."""

    def __init__(self, script: str, env: Optional[dict] = None,
                 preload: Sequence[str] = PRELOADED) -> None:
        if env is None:
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(
                [REPO, osp.join(REPO, 'tests')]))
        self.script = script
        self.server = subprocess.Popen(
            [sys.executable, osp.abspath(__file__), script, *preload],
            cwd=REPO, env=dict(env, OMP_NUM_THREADS='1'),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.logs = tempfile.mkdtemp(prefix='forked_tool_')
        self.runs = 0

    def run(self, *args: str, env: Optional[dict] = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        """``SCRIPT ARGS...`` in a forked child, in this process's current
        directory, ``env`` added to its environment, ended by SIGALRM after
        ``timeout`` seconds."""
        self.runs += 1
        out, err = (osp.join(self.logs, f'{self.runs}.{name}')
                    for name in ('out', 'err'))
        request = dict(args=[str(arg) for arg in args], env=env or {},
                       cwd=os.getcwd(), stdout=out, stderr=err,
                       timeout=timeout)
        self.server.stdin.write(json.dumps(request) + '\n')
        self.server.stdin.flush()
        answer = self.server.stdout.readline()
        if not answer:
            raise RuntimeError(
                f'the forked_train server ended ({self.server.wait()})')
        with open(out) as stdout, open(err) as stderr:
            return subprocess.CompletedProcess(
                [self.script, *request['args']], json.loads(answer),
                stdout.read(), stderr.read())

    def close(self) -> None:
        self.server.stdin.close()
        self.server.wait(timeout=60)
        shutil.rmtree(self.logs, ignore_errors=True)

    def __enter__(self) -> 'ForkedTool':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class ForkedTrain(ForkedTool):
    """:class:`ForkedTool` of tools/train.py."""

    def __init__(self) -> None:
        super().__init__(TRAIN)

    def train(self, config: str, work_dir: str, *extra: str,
              env: Optional[dict] = None,
              timeout: float = 300) -> subprocess.CompletedProcess:
        """``tools/train.py CONFIG --work-dir WORK_DIR EXTRA...``."""
        return self.run(config, '--work-dir', work_dir, *extra, env=env,
                        timeout=timeout)


def _run_child(script: str, request: dict) -> None:
    """In the forked child: run ``script`` as ``__main__``; exit as
    Python exits (exit handlers run, the status of ``SystemExit`` or 1
    for an exception)."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, request['stdout']), (2, request['stderr'])):
            file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(file, fd)
            os.close(file)
        sys.stdout = sys.__stdout__  # the server's answers went elsewhere
        os.chdir(request['cwd'])
        os.environ.update(request['env'])
        signal_alarm(request['timeout'])
        sys.argv = [script, *request['args']]
        sys.path.insert(0, osp.dirname(script))
        try:
            runpy.run_path(script, run_name='__main__')
            code = 0
        except SystemExit as exit_:
            if exit_.code is None or isinstance(exit_.code, int):
                code = exit_.code or 0
            else:
                print(exit_.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def signal_alarm(seconds: float) -> None:
    """Default SIGALRM after ``seconds``: a run that hangs ends."""
    import signal
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(max(1, int(seconds)))


def _serve(script: str, preload: Sequence[str]) -> None:
    """Import ``preload``, then fork one child per request line on stdin
    and answer its exit status."""
    for module in preload:
        importlib.import_module(module)
    answers = sys.stdout
    sys.stdout = sys.stderr  # nothing else on the answer pipe
    for line in sys.stdin:
        request = json.loads(line)
        threads = os.listdir('/proc/self/task')
        if len(threads) != 1:
            raise RuntimeError(f'forked_train: {len(threads)} threads before '
                               'fork; the server must not run tensor work')
        pid = os.fork()
        if pid == 0:
            _run_child(script, request)
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps(os.waitstatus_to_exitcode(status)) + '\n')
        answers.flush()


if __name__ == '__main__':
    _serve(sys.argv[1], sys.argv[2:])
