"""Containers on the real kernel: namespaces, bind mounts, capabilities, cgroup ceilings, signals
and output, each proven from inside the container or by what it leaves on the host."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cove.fabric import netns
from cove.runtime import cgroups
from cove.runtime.container import MAX_LINE, Container, ContainerError, ContainerSpec, Mount, available, gc

pytestmark = [pytest.mark.root, pytest.mark.skipif(available() is not None, reason=str(available()))]

PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
ENV = {"PATH": PATH, "LANG": "C.UTF-8"}


class Output:
    """Collects a container's lines; lets a test wait for one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.times: list[float] = []
        self._changed = threading.Condition()

    def __call__(self, line: str, when: float) -> None:
        with self._changed:
            self.lines.append(line)
            self.times.append(when)
            self._changed.notify_all()

    def wait_for(self, line: str, timeout: float = 5.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: line in self.lines, timeout), self.lines


Start = Callable[..., tuple[Container, Output]]


def name() -> str:
    return f"cvtrt-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def namespace() -> Iterator[str]:
    ns = name()
    netns.create(ns)
    try:
        yield ns
    finally:
        netns.kill_processes(ns)
        netns.remove(ns)


@pytest.fixture
def run() -> Iterator[Start]:
    """Start containers; every one is cleaned up after the test, whatever happened."""
    started: list[Container] = []

    def start(argv: list[str], **fields: object) -> tuple[Container, Output]:
        output = Output()
        spec = ContainerSpec(name=str(fields.pop("name", name())), argv=argv, env=dict(ENV), **fields)  # type: ignore[arg-type]
        container = Container.start(spec, output)
        started.append(container)
        return container, output

    try:
        yield start
    finally:
        for container in started:
            container.cleanup()


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def test_namespaces_hostname_hosts_and_opt_ml(run: Start, namespace: str, tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    opt_ml.mkdir()
    container, output = run(
        sh(
            "hostname; cat /etc/hosts; cat /etc/resolv.conf; ip -o link show | cut -d: -f2; "
            "echo written > /opt/ml/from-inside; ps -e -o pid= | wc -l; echo pid1=$(cat /proc/1/comm)"
        ),
        netns=namespace,
        hostname="algo-2",
        hosts={"algo-1": "10.0.1.10", "algo-2": "10.0.1.11"},
        nameservers=["10.0.0.2"],
        search=["ec2.internal"],
        mounts=[Mount(str(opt_ml), "/opt/ml")],
    )
    assert container.wait(5) == 0
    lines = output.lines
    assert lines[0] == "algo-2"
    assert "10.0.1.10\talgo-1" in lines and "10.0.1.11\talgo-2" in lines and "127.0.0.1\tlocalhost" in lines
    assert "nameserver 10.0.0.2" in lines and "search ec2.internal" in lines
    links = [line.strip() for line in lines if line.startswith(" ")]
    assert links == ["lo"]  # the namespace Cove made: no eth0 yet, and nothing of the host
    assert (opt_ml / "from-inside").read_text() == "written\n"
    # PID namespace: init, sh, ps (and wc) only; PID 1 is Cove's init, not the host's.
    assert int(lines[-2]) <= 4
    assert lines[-1] == "pid1=python" or lines[-1].startswith("pid1=python")
    assert container.pid > 1
    assert Path("/etc/hostname").read_text().strip() != "algo-2"


def test_the_command_can_change_neither_network_nor_mounts(run: Start, namespace: str) -> None:
    container, output = run(
        sh(
            "ip link add cvtrtd0 type dummy 2>/dev/null && echo link-added; "
            "ip addr add 10.9.9.9/32 dev lo 2>/dev/null && echo addr-added; "
            "mount -t tmpfs none /mnt 2>/dev/null && echo mounted; "
            "grep CapBnd /proc/self/status; echo done"
        ),
        netns=namespace,
    )
    assert container.wait(5) == 0
    assert output.lines[-1] == "done"
    assert not {"link-added", "addr-added", "mounted"} & set(output.lines)
    bounding = int(output.lines[-2].split()[1], 16)
    for cap in (
        12,
        21,
        16,
        19,
        17,
        39,
        38,
    ):  # net_admin, sys_admin, sys_module, sys_ptrace, rawio, bpf, perfmon
        assert not bounding & (1 << cap)
    assert "10.9.9.9" not in netns.run(namespace, ["ip", "addr"]).stdout


def test_a_fresh_network_namespace_has_only_loopback_up(run: Start) -> None:
    probe = (
        "import socket; s = socket.create_server(('127.0.0.1', 0)); socket.create_connection(s.getsockname())"
    )
    container, output = run(
        sh(f'ip -o link show; {sys.executable} -c "{probe}" && echo lo-works'), netns=None
    )
    assert container.wait(5) == 0
    assert len(output.lines) == 2 and ": lo:" in output.lines[0] and "UP" in output.lines[0]
    assert output.lines[1] == "lo-works"


def test_environment_workdir_and_exit_codes(run: Start, tmp_path: Path) -> None:
    container, output = run(["env"], netns=None, workdir=str(tmp_path))
    assert container.wait(5) == 0
    assert sorted(output.lines) == sorted(f"{k}={v}" for k, v in ENV.items())
    container, output = run(sh("pwd; exit 3"), netns=None, workdir=str(tmp_path))
    assert container.wait(5) == 3 and output.lines == [str(tmp_path)]
    container, output = run(sh("kill -KILL $$"), netns=None)
    assert container.wait(5) == 137
    container, output = run(["no-such-program-cvtrt"], netns=None)
    assert container.wait(5) == 127
    assert output.lines == ['exec: "no-such-program-cvtrt": executable file not found in $PATH']


def test_output_lines_arrive_in_order_and_long_or_binary_lines_survive(run: Start) -> None:
    script = (
        "import sys\n"
        "for i in range(300):\n"
        "    (sys.stdout if i % 2 else sys.stderr).write(f'line {i}\\n'); (sys.stdout if i % 2 else sys.stderr).flush()\n"
        f"sys.stdout.write('x' * {MAX_LINE + 10} + '\\n')\n"
        "sys.stdout.buffer.write(b'bad \\xff byte\\n'); sys.stdout.write('no newline'); sys.stdout.flush()\n"
    )
    container, output = run([sys.executable, "-c", script], netns=None)
    assert container.wait(5) == 0
    assert output.lines[:300] == [f"line {i}" for i in range(300)]
    assert [len(line) for line in output.lines[300:302]] == [MAX_LINE, 10]
    assert output.lines[302:] == ["bad \ufffd byte", "no newline"]
    assert output.times == sorted(output.times)


def test_memory_ceiling_kills_a_hog(run: Start) -> None:
    hog = "a = []\nwhile True: a.append(b'x' * (1 << 20))"
    container, _ = run([sys.executable, "-c", hog], netns=None, memory_bytes=64 << 20)
    assert container.wait(10) == 137
    assert container.oom_killed()


def test_cpu_quota_bounds_cpu_time(run: Start) -> None:
    spin = "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass"
    began = time.monotonic()
    container, _ = run([sys.executable, "-c", spin], netns=None, cpus=0.2)
    assert container.wait(10) == 0
    elapsed = time.monotonic() - began
    used = container.usage().cpu_seconds
    # A second of spinning at 20% of one CPU: about 0.2 s of CPU (plus Python's start-up, also capped).
    assert elapsed >= 1.0
    assert 0.02 < used < 0.2 * elapsed + 0.15, (used, elapsed)


def test_stop_delivers_the_signal_then_kills_after_the_grace(run: Start, tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    opt_ml.mkdir()
    polite, output = run(
        sh("trap 'echo term > /opt/ml/got; exit 0' TERM; echo ready; while :; do sleep 0.05; done"),
        netns=None,
        mounts=[Mount(str(opt_ml), "/opt/ml")],
    )
    output.wait_for("ready")
    assert polite.stop(signal.SIGTERM, grace=2.0) == 0
    assert (opt_ml / "got").read_text() == "term\n"

    stubborn, output = run(
        sh("trap '' TERM INT; sleep 100 & echo ready; while :; do sleep 0.05; done"), netns=None
    )
    output.wait_for("ready")
    inside = stubborn._group.pids()
    assert len(inside) >= 3  # init, sh, the background sleep (and maybe a foreground one)
    began = time.monotonic()
    assert stubborn.stop(signal.SIGINT, grace=0.5) == 137
    assert 0.5 <= time.monotonic() - began < 3.0
    stubborn.cleanup()
    for pid in inside:
        assert not Path(f"/proc/{pid}").exists()


def test_cleanup_and_gc_leave_no_cgroup_or_process(run: Start) -> None:
    container, output = run(sh("sleep 100 & echo ready; wait"), netns=None, memory_bytes=128 << 20, cpus=1.0)
    output.wait_for("ready")
    directories = container._group.directories
    pids = container._group.pids()
    assert all(d.is_dir() for d in directories) and pids
    assert gc(container.spec.name) != []
    assert not any(d.exists() for d in directories)
    assert container.wait(5) == 137
    container.cleanup()
    container.cleanup()
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert cgroups.leftovers(container.spec.name) == []


def test_start_refuses_bad_specs(run: Start) -> None:
    with pytest.raises(ContainerError, match="invalid container name"):
        run(["true"], name="Bad_Name", netns=None)
    with pytest.raises(ContainerError, match="does not exist"):
        run(["true"], netns="cvtrt-missing")
    with pytest.raises(ContainerError, match="mount source"):
        run(["true"], netns=None, mounts=[Mount("/nonexistent/cvtrt", "/opt/ml")])
    assert os.path.exists("/proc/self")


def test_read_only_mounts_and_a_private_sys(run: Start, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("content\n")
    limits = (
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
    )
    container, output = run(
        sh(f"cat /data/f; (echo x > /data/g) 2>/dev/null || echo read-only; ls /sys/class/net; {limits}"),
        netns=None,
        mounts=[Mount(str(data), "/data", read_only=True)],
        memory_bytes=96 << 20,
        cpus=0.5,
    )
    assert container.wait(5) == 0
    # /sys/class/net lists the container's interfaces; the cgroup files are the container's own.
    assert output.lines[:3] == ["content", "read-only", "lo"]
    assert output.lines[3] == str(96 << 20)
    assert output.lines[4] in ("50000", "50000 100000")
    assert not (data / "g").exists()


def test_containers_start_concurrently(run: Start) -> None:
    results: dict[str, list[str]] = {}

    def one(host: str) -> None:
        container, output = run(sh("hostname; grep -w $(hostname) /etc/hosts"), netns=None, hostname=host)
        assert container.wait(5) == 0
        results[host] = output.lines

    threads = [threading.Thread(target=one, args=(f"algo-{i}",)) for i in range(1, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A hostname missing from `hosts` still resolves, to 127.0.1.1 as on Debian.
    assert results == {f"algo-{i}": [f"algo-{i}", f"127.0.1.1\talgo-{i}"] for i in range(1, 4)}


def test_the_first_jobs_of_a_server_wait_for_one_cgroup_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's first jobs start together; each asks whether containers can run. The probe's
    cgroup is named after the process, so two probes at once made and removed it over one
    another ('No such file or directory' failed a job). They now share the one probe."""
    from cove.runtime import container

    made: list[str] = []
    real_create = cgroups.Cgroup.create

    def create(name: str, **limits: object) -> cgroups.Cgroup:
        made.append(name)
        time.sleep(0.05)  # widen the window two first probes would share
        return real_create(name, **limits)  # type: ignore[arg-type]

    monkeypatch.setattr(cgroups.Cgroup, "create", create)
    container._probe_once.cache_clear()
    answers: list[str | None] = []
    threads = [threading.Thread(target=lambda: answers.append(available())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [None] * 8
    assert made == [f"probe-{os.getpid()}"]
