"""Every shipped device carries the energy model, sourced, and its derived figures follow the
derivations hw_specs/README.md ("Energy") states: the engine energies are the fit
``(tdp - idle) / dense peak``, the on-chip SRAM energies Horowitz's 45 nm read energy scaled by
C V^2, the DRAM energies the vendor's pJ/bit."""

from __future__ import annotations

import pytest

from roofline.errors import SpecError
from roofline.kinds import EngineKind, LevelKind
from roofline.presets import list_devices, load_hardware

DEVICES = list_devices()


@pytest.mark.parametrize("name", DEVICES)
def test_every_device_has_a_sourced_energy_model(name):
    hw = load_hardware(name)
    assert hw.power is not None and hw.power.source
    assert 0 <= hw.power.idle < hw.power.tdp
    assert hw.power.note, "the TDP and idle figures say where they come from"
    for e in EngineKind:
        eng = getattr(hw.engines, e)
        assert eng.energy and eng.energy_source and eng.energy_note
        assert set(eng.energy) == set(eng.peak)
    for lvl in hw.memory.values():
        assert lvl.energy is not None and lvl.energy_source and lvl.energy_note


@pytest.mark.parametrize("name", DEVICES)
def test_engine_energies_are_the_fit_to_the_tdp_at_peak(name):
    # e[dtype] = (tdp - idle) / peak[dtype], written with 3 significant digits
    hw = load_hardware(name)
    head = hw.power.tdp - hw.power.idle
    for e in EngineKind:
        eng = getattr(hw.engines, e)
        for dt, peak in eng.peak.items():
            assert eng.energy[dt] * peak == pytest.approx(head, rel=5e-3), (e, dt)


@pytest.mark.parametrize("name", DEVICES)
def test_memory_energies_follow_the_stated_sources(name):
    hw = load_hardware(name)
    pj = 1e-12
    for n, lvl in hw.memory.items():
        if lvl.kind == LevelKind.ONCHIP:
            # Horowitz 45 nm: 12.5 pJ/B (1 MB array) or 2.5 pJ/B (32 KB), x (node/45)(V/0.9)^2 < 1
            assert 0 < lvl.energy < 12.5 * pj, n
            assert "Horowitz" in lvl.energy_source
        elif lvl.kind == LevelKind.DEVICE:
            # HBM: Micron 6.0 pJ/bit; GDDR6: 7.5 pJ/bit; DDR: Horowitz 1.3 nJ per 64 bits
            assert lvl.energy in (6.0 * 8 * pj, 7.5 * 8 * pj, 1300 / 8 * pj), n
        else:
            # a SerDes link (5.5 pJ/bit) + a host DRAM read (1.3 nJ / 8 B)
            assert lvl.energy == pytest.approx(5.5 * 8 * pj + 1300 / 8 * pj), n
    assert hw.power.interconnect == pytest.approx(5.5 * 8 * pj)


def test_a_cost_block_is_dated_and_sourced():
    priced = [n for n in DEVICES if load_hardware(n).cost is not None]
    assert priced, "at least one shipped device is priced"
    for n in priced:
        cost = load_hardware(n).cost
        assert cost.source and cost.note


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"lifetime": "5 y"}, "lifetime"), ({"electricity": "$0.1/kWh"}, "electricity"),
     ({"pue": 1.3}, "pue")],
)  # fmt: skip
def test_an_hourly_price_takes_no_amortization_or_energy_terms(extra, field):
    """An all-in hourly rate already includes energy: a lifetime, an electricity price or a PUE
    beside it would be ignored, so each is refused by name (a PUE of 1.3 was silently ignored)."""
    spec = load_hardware("h100_sxm5").model_dump(mode="json")
    spec["cost"] = {"hourly": "$2/h", "source": "test", **extra}
    with pytest.raises(SpecError, match="an hourly price already includes") as err:
        load_hardware(spec)
    assert err.value.field == f"cost.{field}"
    spec["cost"] = {"hourly": "$2/h", "source": "test", "pue": 1.0}  # the default, as dumped
    assert load_hardware(spec).cost.hourly == pytest.approx(2 / 3600)
