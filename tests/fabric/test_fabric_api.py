"""The enforced VPC through the EC2 API: what boto3 creates becomes kernel state within a second,
changes apply live, deletions clean up, a restart adopts, and a root process inside an ENI
namespace cannot loosen or sidestep its rules."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cove.fabric import netns
from cove.fabric.probe import Agent, Probe
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client
from tests.fabric.conftest import host_links_into
from tests.fabric.fabric_support import fabric_available

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]


def _server(state: Path) -> EmbeddedServer:
    return EmbeddedServer(Settings(state_dir=state, port=free_port(), fabric="on")).start()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("fabric-api")
    yield path
    server = EmbeddedServer(Settings(state_dir=path, port=free_port(), fabric="on"))
    assert server.cove.kernel is not None
    server.cove.kernel.fabric.teardown()
    assert server.cove.kernel.fabric.owned() == []
    server.cove.db.dispose()


def _applied(server: EmbeddedServer) -> float:
    kernel = server.cove.kernel
    assert kernel is not None
    started = time.monotonic()
    assert kernel.wait_applied(timeout=5.0), "the kernel did not catch up within 5 s"
    return time.monotonic() - started


def _topology(ec2: Any) -> dict[str, Any]:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24")["Subnet"]["SubnetId"]
    client_sg = ec2.create_security_group(GroupName="client", Description="c", VpcId=vpc)["GroupId"]
    server_sg = ec2.create_security_group(GroupName="server", Description="s", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=server_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "UserIdGroupPairs": [{"GroupId": client_sg}],
            }
        ],
    )
    client = ec2.create_network_interface(SubnetId=a, Groups=[client_sg])["NetworkInterface"]
    server = ec2.create_network_interface(SubnetId=b, Groups=[server_sg])["NetworkInterface"]
    return {"vpc": vpc, "client": client, "server": server, "server_sg": server_sg, "client_sg": client_sg}


def test_api_objects_become_enforced_namespaces(state: Path) -> None:
    server = _server(state)
    try:
        ec2 = make_client(server, "ec2")
        topo = _topology(ec2)
        lag = _applied(server)
        names = server.cove.kernel.fabric.names  # type: ignore[union-attr]
        client_ns, server_ns = (
            names.eni(topo["client"]["NetworkInterfaceId"]),
            names.eni(topo["server"]["NetworkInterfaceId"]),
        )
        assert netns.exists(names.router(topo["vpc"])) and netns.exists(client_ns) and netns.exists(server_ns)
        # Every veth joins two Cove namespaces: none has a peer in the host's namespace.
        assert host_links_into(set(netns.listing(names.prefix))) == []
        for namespace in netns.listing(names.prefix):
            links = netns.run(namespace, ["ip", "-j", "link", "show"]).stdout
            assert all(link["ifname"] == "lo" or "link_netnsid" in link for link in json.loads(links))
        shown = netns.run(client_ns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
        assert f"{topo['client']['PrivateIpAddress']}/24" in shown
        link = netns.run(client_ns, ["ip", "-o", "link", "show", "eth0"]).stdout
        assert topo["client"]["MacAddress"].lower() in link
        target = topo["server"]["PrivateIpAddress"]
        with Agent(client_ns) as prober, Agent(server_ns) as listener:
            listener.serve(tcp=[443, 8443])
            result = prober.probe([Probe("https", "tcp", target, 443), Probe("alt", "tcp", target, 8443)])
            assert result == {"https": "open", "alt": "timeout"}

            # A rule added through the API opens the port within a second.
            ec2.authorize_security_group_ingress(
                GroupId=topo["server_sg"],
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 8443,
                        "ToPort": 8443,
                        "IpRanges": [{"CidrIp": "10.20.1.0/24"}],
                    }
                ],
            )
            lag = max(lag, _applied(server))
            assert prober.probe([Probe("alt", "tcp", target, 8443)]) == {"alt": "open"}

            # A NACL deny cuts at once, for new connections and replies alike.
            acl = ec2.create_network_acl(VpcId=topo["vpc"])["NetworkAcl"]["NetworkAclId"]
            current = ec2.describe_network_acls(
                Filters=[{"Name": "association.subnet-id", "Values": [topo["server"]["SubnetId"]]}]
            )["NetworkAcls"][0]
            association = next(
                x["NetworkAclAssociationId"]
                for x in current["Associations"]
                if x["SubnetId"] == topo["server"]["SubnetId"]
            )
            ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
            _applied(server)
            assert prober.probe([Probe("https", "tcp", target, 443)]) == {"https": "timeout"}
        assert lag < 1.0, f"kernel lagged {lag:.2f} s behind the API"

        # Deleting the ENI removes its namespace.
        ec2.delete_network_interface(NetworkInterfaceId=topo["client"]["NetworkInterfaceId"])
        _applied(server)
        assert not netns.exists(client_ns)
    finally:
        server.stop()


def test_restart_adopts_kernel_state(state: Path) -> None:
    server = _server(state)
    try:
        kernel = server.cove.kernel
        assert kernel is not None and kernel.wait_applied(5.0)
        before = kernel.fabric.owned()
        assert before, "the first test's VPC should still be in the kernel"
        report = kernel.sync_now()
        assert report.removed == ()
        assert kernel.fabric.owned() == before
    finally:
        server.stop()


def test_root_in_an_eni_namespace_cannot_loosen_its_rules(state: Path) -> None:
    server = _server(state)
    try:
        ec2 = make_client(server, "ec2")
        topo = _topology(ec2)
        _applied(server)
        names = server.cove.kernel.fabric.names  # type: ignore[union-attr]
        client_ns = names.eni(topo["client"]["NetworkInterfaceId"])
        other = topo["server"]["PrivateIpAddress"]

        def attempt(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(netns.unprivileged(client_ns, list(argv)), capture_output=True, text=True)

        assert attempt("id", "-u").stdout.strip() == "0"
        # Taking another address, flushing rules or leaving the namespace all need the
        # capabilities the job does not have.
        assert attempt("ip", "addr", "add", "10.20.1.99/24", "dev", "eth0").returncode != 0
        assert attempt("ip", "route", "replace", "default", "dev", "eth0").returncode != 0
        assert attempt("nft", "flush", "ruleset").returncode != 0
        assert attempt("nsenter", "--net=/proc/1/ns/net", "true").returncode != 0
        assert attempt("unshare", "--net", "true").returncode != 0

        # A raw packet forged with a trusted ENI's source address is dropped by the router (EC2's
        # source/destination check), while the same packet from the trusted ENI itself passes.
        trusted = ec2.create_network_interface(
            SubnetId=topo["client"]["SubnetId"], Groups=[topo["client_sg"]]
        )["NetworkInterface"]
        ec2.authorize_security_group_ingress(
            GroupId=topo["server_sg"],
            IpPermissions=[
                {
                    "IpProtocol": "udp",
                    "FromPort": 5000,
                    "ToPort": 5000,
                    "IpRanges": [{"CidrIp": trusted["PrivateIpAddress"] + "/32"}],
                }
            ],
        )
        _applied(server)
        router = names.router(topo["vpc"])

        def send_from(namespace: str, source: str, sport: int) -> None:
            script = (
                "import socket,struct;"
                "s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW);"
                f"h=struct.pack('!BBHHHBBH4s4s',0x45,0,28,0,0,64,17,0,socket.inet_aton('{source}'),"
                f"socket.inet_aton('{other}'));"
                f"s.sendto(h+struct.pack('!HHHH',{sport},5000,8,0),('{other}',0))"
            )
            done = subprocess.run(
                netns.unprivileged(namespace, ["python3", "-c", script]), capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr

        def passed(sport: int) -> bool:
            listed = netns.run(router, ["conntrack", "-L", "-p", "udp", "--sport", str(sport)], check=False)
            return str(sport) in listed.stdout

        send_from(client_ns, trusted["PrivateIpAddress"], 41111)
        send_from(names.eni(trusted["NetworkInterfaceId"]), trusted["PrivateIpAddress"], 41112)
        time.sleep(0.2)
        assert passed(41112), "the genuine packet should have been forwarded"
        assert not passed(41111), "the forged packet crossed the router"
        _no_datagram_slips_into_a_peers_flow(
            names.eni(topo["server"]["NetworkInterfaceId"]),
            other,
            names.eni(trusted["NetworkInterfaceId"]),
            trusted["PrivateIpAddress"],
            client_ns,
            state,
        )
    finally:
        server.stop()


RESPONDER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5000))
with open(sys.argv[1], "ab", buffering=0) as log:
    while True:
        data, peer = s.recvfrom(2048)
        log.write(data + b"\\n")
        s.sendto(b"ack", peer)
"""

SENDER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 41120))
s.settimeout(3)
s.sendto(sys.argv[2].encode(), (sys.argv[1], 5000))
print(s.recvfrom(100)[0].decode())
"""

FORGER = """
import socket, struct, sys
source, target, payload = sys.argv[1], sys.argv[2], sys.argv[3].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
udp = struct.pack("!HHHH", 41120, 5000, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 socket.inet_aton(source), socket.inet_aton(target))
s.sendto(ip + udp, (target, 0))
"""


def _no_datagram_slips_into_a_peers_flow(
    server_ns: str, server: str, peer_ns: str, peer: str, forger_ns: str, state: Path
) -> None:
    """A datagram with a peer's address and port, sent into the peer's established (replied) UDP
    flow from another ENI, is dropped like a flow's first packet would be: the source check sees
    every packet, not only those that open flows."""
    log = state / "responder.log"
    log.unlink(missing_ok=True)
    responder = subprocess.Popen(netns.unprivileged(server_ns, ["python3", "-c", RESPONDER, str(log)]))
    try:
        time.sleep(0.3)

        def run(namespace: str, script: str, *args: str) -> str:
            done = subprocess.run(
                netns.unprivileged(namespace, ["python3", "-c", script, *args]),
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        assert run(peer_ns, SENDER, server, "genuine-1") == "ack"
        run(forger_ns, FORGER, peer, server, "forged")
        assert run(peer_ns, SENDER, server, "genuine-2") == "ack"
        time.sleep(0.2)
    finally:
        responder.kill()
        responder.wait()
    assert log.read_text().split() == ["genuine-1", "genuine-2"]


def test_a_change_reads_back_only_its_vpc_and_the_resync_mends_the_others(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _server(state)
    try:
        ec2 = make_client(server, "ec2")
        kernel = server.cove.kernel
        assert kernel is not None
        changed = _topology(ec2)
        other = ec2.create_vpc(CidrBlock="10.21.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=other, CidrBlock="10.21.1.0/24")["Subnet"]["SubnetId"]
        ec2.create_network_interface(SubnetId=subnet)
        _applied(server)
        names = kernel.fabric.names
        other_router = names.router(other)
        touched: list[str] = []
        real_run = netns.run

        def run(name: str, argv: Any, **kwargs: Any) -> Any:
            touched.append(name)
            return real_run(name, argv, **kwargs)

        monkeypatch.setattr(netns, "run", run)
        subnet_a = changed["client"]["SubnetId"]
        ec2.create_network_interface(SubnetId=subnet_a, Groups=[changed["client_sg"]])
        _applied(server)
        # A job's ENI changes its own VPC: the other VPC's kernel state is not read back (each
        # read is a process, and a host may hold many VPCs).
        assert names.router(changed["vpc"]) in touched
        assert other_router not in touched

        # Drift in the other VPC (its default route gone) is mended by the periodic full pass.
        table = netns.run(other_router, ["ip", "-j", "-4", "route", "show", "table", "all"]).stdout
        assert table.strip() not in ("", "[]")
        netns.run(other_router, ["ip", "route", "flush", "table", "all"], check=False)
        kernel.sync_now(full=True)
        assert json.loads(netns.run(other_router, ["ip", "-j", "-4", "route", "show", "table", "all"]).stdout)
    finally:
        server.stop()
