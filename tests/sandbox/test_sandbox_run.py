"""Custom code in real child processes: results come back, misuse fails cleanly."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from insitu.errors import InvalidInput
from insitu.node.sandbox import Layer, Limits, OutputKind, SandboxOutcome, run_function

MIB = 1 << 20
LIMITS = Limits(cpu_seconds=20, memory_bytes=768 * MIB, wall_seconds=60, output_bytes=MIB)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("node-data")
    people = pd.DataFrame({"age": [30, 40, 50, 60], "city": ["a", "b", "a", "b"]})
    people.to_parquet(root / "people.parquet")
    pd.DataFrame({"salary": [1, 2]}).to_parquet(root / "secret.parquet")
    return root


def run(data: Path, body: str, limits: Limits = LIMITS, **options: str) -> SandboxOutcome:
    source = "def analysis(people):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    outcome = run_function(
        source,
        tables={"people": data / "people.parquet"},
        limits=limits,
        workdir=data / "work",
        **options,  # type: ignore[arg-type]
    )
    assert not list((data / "work").iterdir()), "the run's directory must be removed"
    return outcome


def failed(outcome: SandboxOutcome) -> str:
    assert not outcome.ok
    assert outcome.output == b"" and outcome.output_kind is OutputKind.NONE
    assert outcome.error
    assert "Traceback" not in outcome.error
    return outcome.error


def test_dataframe_result_comes_back_as_parquet(data: Path) -> None:
    outcome = run(
        data,
        'print("rows:", len(people))\nreturn people.groupby("city", as_index=False)["age"].mean()',
    )
    assert outcome.ok, outcome.error
    assert outcome.output_kind is OutputKind.PARQUET
    result = pd.read_parquet(io.BytesIO(outcome.output))
    assert result.to_dict("list") == {"city": ["a", "b"], "age": [40.0, 50.0]}
    assert outcome.stdout == "rows: 4\n"
    assert {Layer.RLIMITS, Layer.AUDIT_HOOK} <= set(outcome.layers)
    assert outcome.cpu_seconds > 0


def test_number_result_comes_back_as_json_without_the_parent_environment(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INSITU_DATABASE_PASSWORD", "hunter2")
    outcome = run(
        data,
        "import os, sys\n"
        'return {"mean": people["age"].mean(), "n": len(people), '
        '"env": sorted(os.environ), "isolated": sys.flags.isolated}',
    )
    assert outcome.ok, outcome.error
    assert outcome.output_kind is OutputKind.JSON
    value = json.loads(outcome.output)
    assert value["mean"] == 45.0 and value["n"] == 4
    assert "INSITU_DATABASE_PASSWORD" not in value["env"] and value["isolated"] == 1


def test_network_is_refused(data: Path) -> None:
    error = failed(run(data, "import socket\nsocket.create_connection(('127.0.0.1', 5432), 2)"))
    assert "PermissionError" in error and "socket" in error


def test_reading_system_files_is_refused(data: Path) -> None:
    error = failed(run(data, "return open('/etc/passwd').read()"))
    assert "PermissionError" in error and "/etc/passwd" in error


def test_reading_an_unapproved_dataset_is_refused(data: Path) -> None:
    error = failed(run(data, f"return open({str(data / 'secret.parquet')!r}, 'rb').read(4)"))
    assert "PermissionError" in error and "secret.parquet" in error


def test_spawning_a_process_is_refused(data: Path) -> None:
    error = failed(run(data, "import subprocess\nreturn subprocess.run(['id']).returncode"))
    assert "PermissionError" in error and "subprocess" in error


PROBES = {
    "system": "os.system('id')",
    "fork": "os.fork()",
    "kill-parent": "os.kill(os.getppid(), 9)",
    "ctypes": "ctypes.CDLL(None).getpid()",
    "list-data-dir": "os.listdir(DATA)",
    "write-outside": "open(os.path.join(DATA, 'planted.txt'), 'w').write('x')",
    "symlink-out": "os.symlink('/etc/passwd', 'link'); open('link').read()",
    "proc-environ": "open(f'/proc/{os.getppid()}/environ').read()",
    "udp": "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))",
    "raise-limits": "resource.setrlimit(resource.RLIMIT_AS, (-1, -1))",
}


def test_every_other_escape_is_refused_inside_one_run(data: Path) -> None:
    lines = ["import ctypes, os, resource, socket", f"DATA = {str(data)!r}", "found = {}"]
    for name, attempt in PROBES.items():
        lines += [
            "try:",
            f"    {attempt}",
            f"    found[{name!r}] = 'allowed'",
            "except OSError as exc:",  # PermissionError, or EACCES from the kernel layers
            f"    found[{name!r}] = type(exc).__name__",
        ]
    lines += ["open('scratch.txt', 'w').write('ok')"]
    lines += ["found['scratch'] = open('scratch.txt').read()"]
    lines += ["return found"]
    outcome = run(data, "\n".join(lines))
    assert outcome.ok, outcome.stderr
    found = json.loads(outcome.output)
    assert found == {**dict.fromkeys(PROBES, "PermissionError"), "scratch": "ok"}
    assert not (data / "planted.txt").exists()


def test_memory_limit_stops_the_code(data: Path) -> None:
    error = failed(run(data, "import numpy as np\nreturn float(np.ones(300_000_000).sum())"))
    assert "memory limit" in error


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("while True:\n    pass", id="busy"),
        pytest.param(
            "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass",
            id="ignoring-sigxcpu",
            marks=pytest.mark.slow,  # runs on to the hard limit, a second later
        ),
    ],
)
def test_cpu_limit_stops_a_busy_loop(data: Path, body: str) -> None:
    limits = Limits(cpu_seconds=2, memory_bytes=768 * MIB, wall_seconds=120, output_bytes=MIB)
    outcome = run(data, body, limits)
    assert "CPU time limit of 2 s" in failed(outcome)
    assert Layer.RLIMITS in outcome.layers  # reported by the child before the code ran


def test_wall_clock_limit_stops_a_sleeper(data: Path) -> None:
    limits = Limits(cpu_seconds=20, memory_bytes=768 * MIB, wall_seconds=3, output_bytes=MIB)
    outcome = run(data, "import time\ntime.sleep(3600)", limits)
    assert "wall-clock limit of 3 s" in failed(outcome)


def test_printing_a_gigabyte_fails_and_keeps_a_short_log(data: Path) -> None:
    limits = Limits(
        cpu_seconds=20, memory_bytes=768 * MIB, wall_seconds=60, output_bytes=MIB, log_bytes=1000
    )
    outcome = run(data, "for _ in range(1_000_000):\n    print('x' * 1000)", limits)
    assert "printed more than" in failed(outcome)
    assert len(outcome.stdout) < 1100 and outcome.stdout.startswith("xxx")


def test_unserialisable_result_fails_clearly(data: Path) -> None:
    error = failed(run(data, "return object()"))
    assert "cannot return a value of type 'object'" in error


def test_result_over_the_output_limit_fails(data: Path) -> None:
    error = failed(run(data, "return 'x' * 2_000_000"))
    assert "over the" in error and "limit" in error


def test_exception_is_reported_with_type_and_message(data: Path) -> None:
    outcome = run(data, "raise ValueError('age must be positive')")
    assert failed(outcome) == "ValueError: age must be positive"
    assert '"<custom code>", line 2' in outcome.stderr
    assert "sandbox" not in outcome.stderr  # the sandbox's own frames are left out


def test_exiting_early_is_a_failure(data: Path) -> None:
    error = failed(run(data, "import os\nos._exit(0)"))
    assert error == "the process ended before the function returned"


@pytest.mark.parametrize(
    ("source", "table", "message"),
    [
        ("def f(people, visits):\n    return 1\n", "people.parquet", "approved datasets"),
        ("def f(people):\n    return 1\n", "missing.parquet", "does not exist"),
    ],
)
def test_tables_must_match_the_parameters_and_exist(
    data: Path, source: str, table: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        run_function(source, tables={"people": data / table}, limits=LIMITS, workdir=data / "w")


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(InvalidInput):
        Limits(cpu_seconds=0)
    with pytest.raises(InvalidInput):
        Limits(memory_bytes=MIB)
    assert os.cpu_count()  # the suite needs no more than what the host has


def test_damaged_table_fails_before_the_code_runs(data: Path) -> None:
    damaged = data / "damaged.parquet"
    damaged.write_bytes(b"PAR1 not really parquet PAR1")
    outcome = run_function(
        "def f(people):\n    print('ran')\n    return 1\n",
        tables={"people": damaged}, limits=LIMITS, workdir=data / "work",
    )  # fmt: skip
    assert failed(outcome).startswith("dataset 'people' could not be loaded")
    assert outcome.stdout == ""
