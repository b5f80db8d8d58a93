"""The load caches: a repeated load of an unchanged spec file is the same frozen object, and a
changed file (or a changed device file under a system) is read again, whatever its timestamps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import roofline as rl
from roofline import input_files
from roofline.input_files import FileCache, recording_reads

ROOT = Path(__file__).resolve().parent.parent
DEVICE = ROOT / "hw_specs" / "h100_sxm5.yaml"
SYSTEM = ROOT / "hw_specs" / "systems" / "dgx_h100.yaml"
#: the HBM bandwidth line of h100_sxm5.yaml and a rewrite of the same length
HBM = "bandwidth: 3.35 TB/s"
HBM_NEW = "bandwidth: 3.36 TB/s"


def _device(tmp_path: Path) -> Path:
    text = DEVICE.read_text(encoding="utf-8")
    assert text.count(HBM) == 1
    path = tmp_path / "dev.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _rewrite_same_stamp(path: Path, old: str, new: str) -> None:
    """Rewrite ``path`` with the same size and modification time (as within one clock tick)."""
    stamp = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert path.stat().st_size == stamp.st_size


def _hbm(hw: rl.Hardware) -> float:
    return hw.memory[hw.main_level].bandwidth


def test_a_repeated_load_of_an_unchanged_file_is_the_same_object():
    assert rl.load_hardware("h100_sxm5") is rl.load_hardware("h100_sxm5")
    assert rl.load_hardware("dgx_h100") is rl.load_hardware("dgx_h100")
    assert rl.load_model("llama2_7b") is rl.load_model("llama2_7b")


def test_a_device_rewritten_within_the_same_tick_is_read_again(tmp_path):
    path = _device(tmp_path)
    first = rl.load_hardware(str(path))
    _rewrite_same_stamp(path, HBM, HBM_NEW)
    again = rl.load_hardware(str(path))
    assert (_hbm(first), _hbm(again)) == (3.35e12, 3.36e12)


def test_a_system_sees_its_changed_device_file(tmp_path):
    device = _device(tmp_path)
    system = tmp_path / "sys.yaml"
    text = SYSTEM.read_text(encoding="utf-8").replace("device: h100_sxm5", f"device: {device}")
    system.write_text(text, encoding="utf-8")
    first = rl.load_hardware(str(system))
    assert isinstance(first, rl.System) and rl.load_hardware(str(system)) is first
    _rewrite_same_stamp(device, HBM, HBM_NEW)
    again = rl.load_hardware(str(system))
    assert isinstance(again, rl.System)
    assert (_hbm(first.device), _hbm(again.device)) == (3.35e12, 3.36e12)


def test_a_settled_file_is_vouched_for_by_its_stat(tmp_path, monkeypatch):
    """Past the settling time a hit reads nothing; a change of size or times is read again."""
    monkeypatch.setattr(input_files, "SETTLED_S", -60.0)  # every file counts as settled
    path = tmp_path / "x.txt"
    path.write_bytes(b"one")
    reads: list[bytes] = []

    def read(p: str | os.PathLike[str]) -> bytes:
        reads.append(Path(p).read_bytes())
        return reads[-1]

    cache: FileCache[bytes] = FileCache(4)
    assert cache.load(path, "", read, bytes.upper) == b"ONE"
    assert cache.load(path, "", read, bytes.upper) == b"ONE"
    assert len(reads) == 1
    path.write_bytes(b"three")
    assert cache.load(path, "", read, bytes.upper) == b"THREE"
    assert len(reads) == 2


def test_a_cached_load_is_still_noted_as_an_input_of_the_command():
    rl.load_hardware("h100_sxm5")
    with recording_reads() as reads:
        rl.load_hardware("h100_sxm5")
    st = DEVICE.stat()
    assert (st.st_dev, st.st_ino) in reads


@pytest.mark.parametrize("size", [1, 3])
def test_the_cache_is_bounded(tmp_path, size):
    cache: FileCache[bytes] = FileCache(size)
    for i in range(5):
        p = tmp_path / f"{i}.txt"
        p.write_bytes(b"x")
        cache.load(p, "", lambda q: Path(q).read_bytes(), bytes.upper)
    assert len(cache) == size
