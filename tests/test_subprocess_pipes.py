"""No subprocess in the code base has a stderr pipe that nobody reads.

A child writing more than a pipe's capacity (64 KB) to an undrained stderr blocks for ever, and
so does whoever waits on its stdout: a corrupt stream makes ffmpeg do exactly that. The rule: a
call that starts a process with stderr=PIPE (subprocess.Popen, asyncio/anyio process starters)
sits in a function that calls communicate() or reads `.stderr`. subprocess.run and
check_output drain their pipes themselves.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("foundation", "catalogs", "generation", "provenance", "compliance", "pipeline", "flows",
            "benchmarks", "tests")
STARTERS = {"Popen", "run_async", "create_subprocess_exec", "create_subprocess_shell", "open_process"}
READS = {"read", "readline", "readlines", "receive", "receive_some"}


def _is_pipe(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "PIPE") or (isinstance(node, ast.Name) and node.id == "PIPE")


def _drains(scope: ast.AST) -> bool:
    for node in ast.walk(scope):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "communicate":
                return True
            target = node.func.value
            if node.func.attr in READS and isinstance(target, ast.Attribute) and target.attr == "stderr":
                return True
        if isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.iter, ast.Attribute) \
                and node.iter.attr == "stderr":
            return True
    return False


def undrained_stderr(source: str, name: str) -> list[str]:
    """'file:line' of every process start with stderr=PIPE whose enclosing function never reads stderr."""
    tree = ast.parse(source, name)
    found = []
    scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]
    for scope in scopes:
        body_nodes = [n for stmt in getattr(scope, "body", []) for n in ast.walk(stmt)]
        for node in body_nodes:
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called not in STARTERS:
                continue
            if any(k.arg == "stderr" and _is_pipe(k.value) for k in node.keywords) and not _drains(scope):
                found.append(f"{name}:{node.lineno}")
    return sorted(set(found))


def test_no_process_in_the_code_base_leaves_stderr_undrained():
    bad = []
    files = [p for pkg in PACKAGES if (ROOT / pkg).is_dir() for p in (ROOT / pkg).rglob("*.py")]
    assert len(files) > 50
    for path in files:
        bad += undrained_stderr(path.read_text(), str(path.relative_to(ROOT)))
    assert bad == [], f"stderr=PIPE never read (send it to a file or communicate()): {bad}"


def test_the_scan_catches_an_undrained_pipe_and_accepts_drained_ones():
    bad = '''
import subprocess
def frames(args):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc.stdout.read()
'''
    good = '''
import subprocess
def frames(args):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    return out
def to_file(args, err):
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err)
'''
    assert undrained_stderr(bad, "bad.py") == ["bad.py:4"]
    assert undrained_stderr(good, "good.py") == []
