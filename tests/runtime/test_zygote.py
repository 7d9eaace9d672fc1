"""The agent zygote: agents forked from it are confined to the instance (its network namespace,
hosts, resolver, hostname, /opt/ml; no capability to change the network), their exits and kills
reach the server, the zygote's death ends them and their handles at once, and the real data agent
moves data through it for a fraction of a fresh interpreter's CPU."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cove.fabric import netns
from cove.runtime.agents import EXIT_ZYGOTE_LOST, AgentSpec, AgentZygote, ZygoteError
from cove.runtime.container import Mount
from cove.runtime.sandbox import KEPT_CAPS
from cove.runtime.transfer import PHASE_DONE
from cove.runtime.transferplan import Plan

if TYPE_CHECKING:
    from cove.server import EmbeddedServer

REPO = Path(__file__).resolve().parents[2]
PROBE = "tests.runtime.test_zygote:probe"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and mounts need root")


def probe(args: list[str], client_factory: Any) -> int:
    """Runs inside a forked agent instead of the data agent: reports what the agent sees."""
    plan = json.loads(Path(args[-1]).read_text())
    if plan.get("sleep"):
        time.sleep(plan["sleep"])
    seen: dict[str, Any] = {
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "hostname": socket.gethostname(),
        "hosts": Path("/etc/hosts").read_text(),
        "resolv": Path("/etc/resolv.conf").read_text(),
        "env": dict(os.environ),
        "caps": {
            line.split(":")[0]: int(line.split()[1], 16)
            for line in Path("/proc/self/status").read_text().splitlines()
            if line.startswith("Cap")
        },
        "client": type(client_factory(Plan(result="", region="us-east-1"))).__module__,
    }
    for name in plan.get("resolve", []):
        try:
            seen[name] = socket.gethostbyname(name)
        except OSError as error:
            seen[name] = f"error: {error}"
    if plan.get("ip_link_add"):
        tried = subprocess.run(
            ["ip", "link", "add", "cvtzydummy", "type", "dummy"], capture_output=True, text=True
        )
        seen["ip_link_add"] = [tried.returncode, tried.stderr.strip()]
    if plan.get("out"):
        Path(plan["out"]).write_text(json.dumps(seen))
    print("probe done", flush=True)
    return int(plan.get("exit", 0))


@pytest.fixture(scope="module")
def zygote() -> Iterator[AgentZygote]:
    started = AgentZygote.start(python_path=(str(REPO),))
    try:
        yield started
    finally:
        started.close()
    assert started.process is not None and started.process.poll() is not None


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"cvtzy-{uuid.uuid4().hex[:8]}"
    netns.create(name)
    try:
        yield name
    finally:
        netns.remove(name)


def _plan(tmp_path: Path, **plan: Any) -> str:
    path = tmp_path / f"plan-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(plan))
    return str(path)


def _dns_responder(sock: socket.socket, answer: str, queries: list[str], stop: threading.Event) -> None:
    """Answers every A query with `answer` (others: no records), recording the names asked."""
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            query, peer = sock.recvfrom(512)
        except TimeoutError:
            continue
        labels, at = [], 12
        while query[at]:
            labels.append(query[at + 1 : at + 1 + query[at]].decode())
            at += 1 + query[at]
        qtype = struct.unpack("!H", query[at + 1 : at + 3])[0]
        question = query[12 : at + 5]
        queries.append(".".join(labels))
        records = struct.pack("!HHHLH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(answer) if qtype == 1 else b""
        header = query[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if records else 0, 0, 0)
        sock.sendto(header + question + records, peer)


def test_agent_is_confined_to_its_instance(zygote: AgentZygote, namespace: str, tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    opt_ml.mkdir()
    dns = netns.socket_in(namespace, ("127.0.0.1", 53), kind=socket.SOCK_DGRAM)
    queries: list[str] = []
    stop = threading.Event()
    responder = threading.Thread(target=_dns_responder, args=(dns, "10.1.2.3", queries, stop))
    responder.start()
    host_hosts, host_name = Path("/etc/hosts").read_text(), socket.gethostname()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "AWS_ENDPOINT_URL_S3": "http://s3.example:80"}
    lines: list[str] = []
    try:
        spec = AgentSpec(
            plan_path=_plan(
                tmp_path, out="/opt/ml/seen.json", resolve=["peer-1", "svc.cvtzy.internal"], ip_link_add=True
            ),
            env=env,
            netns=namespace,
            hostname="algo-3",
            hosts={"peer-1": "10.0.0.9"},
            nameservers=["127.0.0.1"],
            search=["cvtzy.internal"],
            mounts=[Mount(str(opt_ml), "/opt/ml")],
            entry=PROBE,
        )
        handle = zygote.spawn(spec, on_output=lambda line, _when: lines.append(line))
        assert handle.wait(30) == 0, lines
    finally:
        stop.set()
        responder.join()
        dns.close()
    assert lines[-1] == "probe done"
    seen = json.loads((opt_ml / "seen.json").read_text())  # written at /opt/ml inside
    assert seen["interfaces"] == ["lo"]
    assert seen["hostname"] == "algo-3"
    assert "10.0.0.9\tpeer-1" in seen["hosts"]
    assert seen["resolv"] == "nameserver 127.0.0.1\nsearch cvtzy.internal\n"
    assert seen["peer-1"] == "10.0.0.9"  # /etc/hosts of the instance
    assert seen["svc.cvtzy.internal"] == "10.1.2.3"  # asked of the instance's nameserver
    assert "svc.cvtzy.internal" in queries
    assert seen["env"] == env
    mask = sum(1 << cap for cap in KEPT_CAPS)
    assert seen["caps"]["CapEff"] == seen["caps"]["CapPrm"] == seen["caps"]["CapBnd"] == mask
    assert seen["caps"]["CapInh"] == seen["caps"]["CapAmb"] == 0
    assert seen["ip_link_add"][0] != 0 and "not permitted" in seen["ip_link_add"][1]
    assert seen["client"] == "botocore.client"
    assert len(netns.run(namespace, ["ip", "-o", "link", "show"]).stdout.splitlines()) == 1  # only lo
    assert Path("/etc/hosts").read_text() == host_hosts
    assert socket.gethostname() == host_name


def test_exit_codes_kills_and_setup_failures(zygote: AgentZygote, tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    env = {"PATH": "/usr/bin:/bin"}
    seven = zygote.spawn(AgentSpec(_plan(tmp_path, exit=7), env, None, log_path=str(log), entry=PROBE))
    assert seven.wait(30) == 7
    assert log.read_text() == "probe done\n"
    assert seven.cpu_seconds > 0
    sleeper = zygote.spawn(AgentSpec(_plan(tmp_path, sleep=60), env, None, entry=PROBE))
    assert sleeper.wait(0.2) is None
    sleeper.kill(signal.SIGTERM)
    assert sleeper.wait(10) == 128 + signal.SIGTERM
    other = zygote.spawn(AgentSpec(_plan(tmp_path, sleep=60), env, None, entry=PROBE))
    other.kill()
    assert other.wait(10) == 128 + signal.SIGKILL
    stopped = zygote.spawn(AgentSpec(_plan(tmp_path, sleep=60), env, None, entry=PROBE))
    assert stopped.stop(signal.SIGTERM, grace=10) == 128 + signal.SIGTERM
    stopped.cleanup()
    assert stopped.usage().cpu_seconds > 0 and stopped.usage().memory_bytes > 0
    missing = zygote.spawn(AgentSpec(_plan(tmp_path), env, "cvtzy-absent", log_path=str(log), entry=PROBE))
    assert missing.wait(30) == 125
    assert "entering netns cvtzy-absent" in log.read_text()


def test_concurrent_spawns_get_their_own_exits(zygote: AgentZygote, tmp_path: Path) -> None:
    codes: dict[int, int | None] = {}

    def one(n: int) -> None:
        handle = zygote.spawn(AgentSpec(_plan(tmp_path, exit=n, sleep=0.2), {}, None, entry=PROBE))
        codes[n] = handle.wait(60)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == {n: n for n in range(8)}


def test_zygote_death_ends_agents_and_handles(tmp_path: Path) -> None:
    zygote = AgentZygote.start(python_path=(str(REPO),))
    try:
        handle = zygote.spawn(AgentSpec(_plan(tmp_path, sleep=60), {"PATH": "/bin"}, None, entry=PROBE))
        os.kill(zygote.pid, signal.SIGKILL)
        started = time.monotonic()
        assert handle.wait(5) == EXIT_ZYGOTE_LOST
        assert time.monotonic() - started < 2
        assert handle.error
        with pytest.raises(ZygoteError):
            zygote.spawn(AgentSpec(_plan(tmp_path), {}, None, entry=PROBE))
        deadline = time.monotonic() + 5
        while _alive(handle.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(handle.pid), "the agent outlived its zygote"
    finally:
        zygote.close()


def _alive(pid: int) -> bool:
    """Running, not dead or a zombie waiting for whoever inherited it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status and "State:\tX" not in status


@pytest.fixture
def s3_bucket(client: Any) -> Iterator[tuple[Any, str]]:
    """A bucket of the test server's account (an S3 client for it), emptied and deleted after."""
    s3 = client("s3")
    bucket = f"cvtzy-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    try:
        yield s3, bucket
    finally:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)


def _agent_env(server: EmbeddedServer) -> dict[str, str]:
    account = server.cove.account
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL_S3": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
        "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_data_agent_through_the_zygote_costs_less_than_a_fresh_interpreter(
    zygote: AgentZygote, cove_server: EmbeddedServer, s3_bucket: tuple[Any, str], tmp_path: Path
) -> None:
    s3, bucket = s3_bucket
    for key in ("in/a.csv", "in/sub/b.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=f"body of {key}".encode())
    env = _agent_env(cove_server)
    runs = 10

    def plan(label: str, n: int) -> str:
        local = tmp_path / label / str(n)
        out = local / "out"
        out.mkdir(parents=True)
        (out / "result.txt").write_text(f"{label} {n}")
        return _plan(
            local,
            result=str(local / "result.json"),
            role_arn="arn:aws:iam::123456789012:role/R",
            download={
                "channels": [
                    {"name": "train", "s3_uri": f"s3://{bucket}/in/", "local_dir": str(local / "train")}
                ]
            },
            upload=[{"kind": "tree", "sources": [str(out)], "s3_uri": f"s3://{bucket}/out/{label}/{n}"}],
        )

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    for n in range(runs):
        done = subprocess.run(
            [sys.executable, "-m", "cove.runtime.transfer", plan("subprocess", n)],
            env=env | {"PYTHONPATH": str(REPO / "src")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    sub_wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sub_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    zygote_before = zygote.cpu_seconds()
    started = time.monotonic()
    agents_cpu = 0.0
    for n in range(runs):
        log = tmp_path / "zygote" / f"{n}.log"
        handle = zygote.spawn(AgentSpec(plan("zygote", n), env, None, log_path=str(log)))
        assert handle.wait(120) == 0, log.read_text()
        agents_cpu += handle.cpu_seconds
    zy_wall = time.monotonic() - started
    zy_cpu = agents_cpu + zygote.cpu_seconds() - zygote_before

    for label in ("subprocess", "zygote"):
        for n in range(runs):
            result = json.loads((tmp_path / label / str(n) / "result.json").read_text())
            assert result["ok"] and result["objects"] == 3, result
            train = tmp_path / label / str(n) / "train"
            assert (train / "sub" / "b.csv").read_text() == "body of in/sub/b.csv"
            body = s3.get_object(Bucket=bucket, Key=f"out/{label}/{n}/result.txt")["Body"].read()
            assert body == f"{label} {n}".encode()
    print(
        f"\n{runs} agents: subprocess {sub_wall:.2f} s wall, {sub_cpu:.2f} CPU-s; "
        f"zygote {zy_wall:.2f} s wall, {zy_cpu:.2f} CPU-s (agents {agents_cpu:.2f}); "
        f"CPU ratio {zy_cpu / sub_cpu:.2f}, wall ratio {zy_wall / sub_wall:.2f}"
    )
    assert zy_cpu < 0.5 * sub_cpu
    assert zy_wall < sub_wall


def test_watching_agent_through_the_zygote(
    zygote: AgentZygote, cove_server: EmbeddedServer, s3_bucket: tuple[Any, str], tmp_path: Path
) -> None:
    s3, bucket = s3_bucket
    checkpoints, stop = tmp_path / "checkpoints", tmp_path / "stop"
    checkpoints.mkdir()
    plan = _plan(
        tmp_path,
        result=str(tmp_path / "result.json"),
        upload=[
            {"kind": "tree", "sources": [str(checkpoints)], "s3_uri": f"s3://{bucket}/ckpt", "delete": True}
        ],
        watch={"stop_file": str(stop), "interval": 0.1},
    )
    lines: list[str] = []
    handle = zygote.spawn(
        AgentSpec(plan, _agent_env(cove_server), None, watch=True),
        on_output=lambda line, _: lines.append(line),
    )
    (checkpoints / "one.pt").write_text("1")
    deadline = time.monotonic() + 20
    while "Contents" not in s3.list_objects_v2(Bucket=bucket) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert handle.wait(0) is None  # still watching
    (checkpoints / "one.pt").unlink()
    (checkpoints / "two.pt").write_text("2")
    stop.touch()
    assert handle.wait(30) == 0, lines
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["ckpt/two.pt"]


def test_one_agent_downloads_then_uploads_on_the_servers_go(
    zygote: AgentZygote, cove_server: EmbeddedServer, s3_bucket: tuple[Any, str], tmp_path: Path
) -> None:
    s3, bucket = s3_bucket
    s3.put_object(Bucket=bucket, Key="in/a.csv", Body=b"channel data")
    env = _agent_env(cove_server)

    def phased(label: str, source: str) -> tuple[Any, list[str], Path]:
        local = tmp_path / label
        (local / "model").mkdir(parents=True)
        (local / "model" / "weights.txt").write_text(f"{label} weights")
        first = _plan(
            local,
            result=str(local / "download.json.result"),
            download={"channels": [{"name": "train", "s3_uri": source, "local_dir": str(local / "train")}]},
        )
        lines: list[str] = []
        spec = AgentSpec(first, env, None, then=str(local / "upload.json"))
        return zygote.spawn(spec, on_output=lambda line, _ts: lines.append(line.rstrip("\n"))), lines, local

    def phase_done(handle: Any, lines: list[str]) -> bool:
        deadline = time.monotonic() + 60
        while PHASE_DONE not in lines and handle.wait(0.02) is None and time.monotonic() < deadline:
            pass
        return PHASE_DONE in lines

    handle, lines, local = phased("ok", f"s3://{bucket}/in/")
    assert phase_done(handle, lines), lines
    assert handle.wait(0.3) is None  # it waits for the go
    assert json.loads((local / "download.json.result").read_text())["ok"]
    assert (local / "train" / "a.csv").read_bytes() == b"channel data"
    # The next plan is written only now, then the go.
    (local / "upload.json").write_text(
        json.dumps(
            {
                "result": str(local / "upload.json.result"),
                "upload": [
                    {"kind": "tree", "sources": [str(local / "model")], "s3_uri": f"s3://{bucket}/out"}
                ],
            }
        )
    )
    handle.kill(signal.SIGUSR1)
    assert handle.wait(60) == 0, lines
    assert json.loads((local / "upload.json.result").read_text())["ok"]
    assert s3.get_object(Bucket=bucket, Key="out/weights.txt")["Body"].read() == b"ok weights"

    # A first plan that fails ends the agent at once, with its reason.
    failed, lines, local = phased("missing", f"s3://{bucket}-missing/in/")
    assert failed.wait(60) == 1
    assert PHASE_DONE not in lines
    assert not json.loads((local / "download.json.result").read_text())["ok"]

    # A waiting agent that is ended instead runs nothing more.
    ended, lines, local = phased("ended", f"s3://{bucket}/in/")
    assert phase_done(ended, lines), lines
    ended.kill(signal.SIGTERM)
    assert ended.wait(60) == 128 + signal.SIGTERM
    assert not (local / "upload.json.result").exists()
