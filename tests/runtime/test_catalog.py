"""Instance-type figures, per-instance ceilings and admission onto a host."""

from __future__ import annotations

import threading

from cove.runtime.catalog import INSTANCE_TYPES, Capacity, Host, InstanceType, host_capacity, limits

HOST = Host(vcpus=2, memory_mib=24_000, gpus=0, neuron_devices=0)


def test_published_figures() -> None:
    expected = {
        "ml.t3.medium": (2, 4096, 0, False),
        "ml.m5.large": (2, 8192, 0, False),
        "ml.m5.24xlarge": (96, 393_216, 0, False),
        "ml.c5.9xlarge": (36, 73_728, 0, False),
        "ml.c5n.18xlarge": (72, 196_608, 0, True),
        "ml.r5.large": (2, 16_384, 0, False),
        "ml.g4dn.12xlarge": (48, 196_608, 4, True),
        "ml.g5.48xlarge": (192, 786_432, 8, True),
        "ml.p3.2xlarge": (8, 62_464, 1, False),
        "ml.p4d.24xlarge": (96, 1_179_648, 8, True),
        "ml.p5.48xlarge": (192, 2_097_152, 8, True),
        "ml.trn1.32xlarge": (128, 524_288, 0, True),
    }
    for name, (vcpus, memory, gpus, efa) in expected.items():
        kind = INSTANCE_TYPES[name]
        assert (kind.vcpus, kind.memory_mib, kind.gpus, kind.efa) == (vcpus, memory, gpus, efa), name
    families = {name.rsplit(".", 1)[0] for name in INSTANCE_TYPES}
    assert {"ml.t3", "ml.m5", "ml.m5d", "ml.c5", "ml.c5n", "ml.r5", "ml.g4dn", "ml.g5", "ml.p3"} <= families
    assert INSTANCE_TYPES["ml.trn1.32xlarge"].neuron_devices == 16


def test_host_capacity_and_limits() -> None:
    host = host_capacity()
    assert host.vcpus >= 1 and host.memory_mib > 256
    assert limits(INSTANCE_TYPES["ml.m5.24xlarge"], HOST) == (2.0, 24_000 * 1024 * 1024)
    assert limits(INSTANCE_TYPES["ml.t3.medium"], HOST) == (2.0, 4096 * 1024 * 1024)


def test_never_fits_explains_why() -> None:
    capacity = Capacity(HOST, overcommit=4.0, max_instances=8)
    assert capacity.never_fits(INSTANCE_TYPES["ml.m5.xlarge"], 2) is None
    reason = capacity.never_fits(INSTANCE_TYPES["ml.g5.12xlarge"], 1)
    assert reason == "1 x ml.g5.12xlarge need 4 GPUs (4 GPUs each) and this host has 0"
    assert "Neuron" in str(capacity.never_fits(INSTANCE_TYPES["ml.trn1.2xlarge"], 1))
    assert "exceed the limit of 8" in str(capacity.never_fits(INSTANCE_TYPES["ml.t3.medium"], 9))
    # Each instance's ceiling is cut to the host's 24000 MiB; 5 of them exceed 4 x 24000.
    assert "overcommit" in str(capacity.never_fits(INSTANCE_TYPES["ml.r5.24xlarge"], 5))
    assert capacity.never_fits(INSTANCE_TYPES["ml.r5.24xlarge"], 4) is None


def test_admission_counts_memory_ceilings_against_overcommitted_memory() -> None:
    capacity = Capacity(HOST, overcommit=1.0)
    big = INSTANCE_TYPES["ml.m5.2xlarge"]  # 32 GiB, cut to 24000 MiB on this host
    small = InstanceType("test.small", 1, 10_000, 0, False)
    assert capacity.try_admit("a", small, 1)
    assert capacity.try_admit("a", small, 1)  # idempotent
    assert not capacity.try_admit("b", big, 1)  # 10000 + 24000 > 24000
    assert capacity.try_admit("c", small, 1)
    assert not capacity.try_admit("d", small, 1)
    capacity.release("a")
    assert capacity.try_admit("d", small, 1)
    assert capacity.admitted() == ["c", "d"]
    assert not capacity.try_admit("e", INSTANCE_TYPES["ml.p3.2xlarge"], 1)


def test_admission_is_thread_safe() -> None:
    capacity = Capacity(HOST, overcommit=1.0)
    kind = InstanceType("test.one", 1, 1000, 0, False)
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(capacity.try_admit(f"j{i}", kind, 1)))
        for i in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 24 and len(capacity.admitted()) == 24


def test_a_release_wakes_a_waiting_job() -> None:
    import threading
    import time

    from cove.runtime.catalog import INSTANCE_TYPES, Capacity, Host

    capacity = Capacity(Host(vcpus=2, memory_mib=8 * 1024, gpus=0, neuron_devices=0), overcommit=1.0)
    large = INSTANCE_TYPES["ml.m5.large"]  # 8 GiB: one at a time on this host
    assert capacity.try_admit("first", large, 1)
    assert not capacity.try_admit("second", large, 1)
    threading.Timer(0.2, capacity.release, args=("first",)).start()
    started = time.monotonic()
    capacity.wait_released(10.0)
    assert time.monotonic() - started < 5.0
    assert capacity.try_admit("second", large, 1)
