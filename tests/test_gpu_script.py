"""The GPU session's script, run on the CPU with a tiny random model: every phase's command still works, the fast
loop writes generate()'s tokens, and each result file says where, how and at what cost it was made.

A lent GPU comes rarely and for minutes; this keeps ``benchmarks/gpu_run.py`` from rotting in between.
"""

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import untraced_env

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import gpu_run  # noqa: E402

PHASES = ["smoke", "decode_speed", "local_sot", "train", "focus_bench", "lud_bench"]
RESULTS = ["smoke.json", "decode_speed.json", "local_sot_gpu.json", "focusllm_train_gpu.json", "focusllm_gpu.json",
           "lud_gpu.json"]


def run(work: Path, *args: str) -> subprocess.CompletedProcess:
    # one thread: tiny ops on a shared 2-core machine crawl when torch's threads wait on each other
    env = untraced_env(OMP_NUM_THREADS="1", GPU_SESSION_T0="")
    return subprocess.run([sys.executable, str(BENCHMARKS / "gpu_run.py"), str(work), "--device", "cpu", "--tiny",
                           *args], env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("gpu_run")
    done = run(work, "--pack", str(work.parent / "results.tar.gz"))
    assert done.returncode == 0, done.stdout + done.stderr
    return work


def read(work: Path, name: str) -> dict:
    return json.loads((work / name).read_text())


def test_every_phase_ran_to_completion_within_its_budget(work):
    session = read(work, "session.json")
    assert [p["phase"] for p in session["phases"]] == PHASES
    for phase in session["phases"]:
        assert phase["ok"], phase
        assert all(c["rc"] == 0 for c in phase["commands"])
    assert len(session["phases"][PHASES.index("train")]["commands"]) == 3  # LUD prepare + train beside FocusLLM
    assert session["device_time_s"] >= session["phases"][-1]["device_time_s"] > 0
    assert session["machine"]["device"] == "cpu" and session["machine"]["torch"]


def test_each_result_records_machine_commands_and_device_time(work):
    for name in RESULTS:
        stamp = read(work, name)["session"]
        assert stamp["machine"]["device"] == "cpu"
        assert stamp["commands"] and all(str(work) in c["command"] for c in stamp["commands"])
        assert stamp["device_time_s"] >= stamp["wall_s"] > 0


def test_the_fast_loop_writes_generates_tokens(work):
    smoke = read(work, "smoke.json")
    assert smoke["ok"] and smoke["fast_decode_equals_generate"] and smoke["cuda_graph_equals_eager"] is None
    speed = read(work, "decode_speed.json")
    assert speed["same_text"] is True
    assert speed["plain"]["output_tokens"] == speed["fast"]["output_tokens"]
    # the batch curve: every batch size, both loops, the same number of steps and tokens
    curve = read(work, "local_sot_gpu.json")["batch_curve"]
    assert [c["rows"] for c in curve] == [1, 2, 4, 8]
    for entry in curve:
        assert entry["fast"]["steps"] == entry["plain"]["steps"] >= 1
        assert entry["fast"]["output_tokens"] == entry["plain"]["output_tokens"]


def test_decode_speed_sets_tokens_per_second_beside_the_bandwidth_bound(work):
    from sotkit.engines.models import load_model

    speed = read(work, "decode_speed.json")
    model, _ = load_model(work / "tiny_model")
    assert speed["weight_bytes"] == sum(p.numel() * 4 for p in model.parameters())  # float32, tied head once
    bound = speed["bound_tokens_per_s"]["measured_copy"]
    assert bound == pytest.approx(speed["bandwidth_bytes_per_s"]["measured_copy"] / speed["weight_bytes"])
    assert speed["fast_share_of_bound"] == pytest.approx(speed["fast"]["tokens_per_s"] / bound)
    assert speed["fast_over_plain"] == pytest.approx(speed["fast"]["tokens_per_s"] / speed["plain"]["tokens_per_s"])
    assert speed["fast_loop_ms_per_token"] == pytest.approx(1000 / speed["fast"]["tokens_per_s"])
    assert speed["fast_step_ms"] > 0 and speed["host_share"] == pytest.approx(
        max(0.0, 1 - speed["fast_step_ms"] / speed["fast_loop_ms_per_token"]))


def test_local_sot_ran_both_modes_on_the_fast_loop(work):
    report = read(work, "local_sot_gpu.json")
    assert report["setup"]["fast_decode"] is True and report["setup"]["device"] == "cpu"
    assert report["summary"]["questions"] == 2
    for row in report["rows"]:
        assert row["speedup"] == pytest.approx(row["sequential"]["latency_s"] / row["sot"]["latency_s"])
    assert "median_per_token_speedup" in report["summary"]
    assert "median_length_ratio_sot_over_sequential" in report["summary"]
    assert "| rows | plain s |" in (work / "local_sot_gpu.md").read_text()


def test_the_tarball_holds_results_and_logs_but_no_weights(work):
    with tarfile.open(work.parent / "results.tar.gz") as tar:
        names = set(tar.getnames())
    assert set(RESULTS) | {"session.json", "lud_gpu.md", "train_0.log", "train_1.log"} <= names
    assert not any(n.startswith(("tiny_model", "lud_model")) or n.endswith(".safetensors") for n in names)


def test_a_passing_smoke_run_is_not_repeated(work):
    done = run(work, "--only", "smoke")
    assert done.returncode == 0, done.stderr
    assert read(work, "session.json")["phases"] == [{"phase": "smoke",
                                                     "skipped": "smoke.json from an earlier call passed"}]


def test_later_phases_decode_without_the_fast_loop_when_the_smoke_run_failed(work, tmp_path, monkeypatch):
    (tmp_path / "tiny_model").mkdir()  # the script makes a tiny model only where there is none
    (tmp_path / "smoke.json").write_text(json.dumps({"ok": False, "error": "RuntimeError: capture failed"}))
    ran: list[gpu_run.Phase] = []  # the phases the script would run, recorded instead of run
    monkeypatch.setattr(gpu_run, "run_phase", lambda phase, *_: ran.append(phase) or {"phase": phase.name})
    session = gpu_run.main([str(tmp_path), "--device", "cpu", "--tiny", "--only", "local_sot,lud_bench"])
    assert "off" in session["fast_decode"] and [p.name for p in ran] == ["local_sot", "lud_bench"]
    [local_sot] = ran[0].sequences
    assert "--fast-decode" not in local_sot[0]
    assert read(work, "local_sot_gpu.json")["setup"]["fast_decode"] is True  # which the flag turns on


def test_a_phase_past_its_budget_is_killed_and_recorded(tmp_path):
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    phase = gpu_run.Phase("slow", 1, [[sleeper, sleeper]])
    record = gpu_run.run_phase(phase, tmp_path, t0=0.0, machine_record={})
    assert record["commands"] == [{"command": record["commands"][0]["command"], "rc": "timeout",
                                   "wall_s": record["commands"][0]["wall_s"]}]  # the second never started
    assert record["ok"] is False
