"""The simulated lab: its instrument models (pure) and its HTTP service (in-process)."""

import asyncio
import statistics

import httpx
import pytest

from laf_simlab.app import create_app
from laf_simlab.instruments import InvalidParams, balance, dissolution, hplc, ph_meter, seeded
from laf_simlab.settings import SimlabSettings


def measure(model, instrument_id, params, inputs=None, seed=42):
    inputs = inputs or {}
    return model(seeded(seed, instrument_id, params, inputs), params, inputs)


def test_the_same_seed_params_and_inputs_give_the_same_data():
    a = measure(hplc.inject, "hplc-01", {"concentration_mg_per_ml": 0.5})
    b = measure(hplc.inject, "hplc-01", {"concentration_mg_per_ml": 0.5})
    c = measure(hplc.inject, "hplc-01", {"concentration_mg_per_ml": 0.5}, seed=43)
    d = measure(hplc.inject, "hplc-01", {"concentration_mg_per_ml": 0.5, "seed": 43})
    assert a == b
    assert a.outputs["area"] != c.outputs["area"]
    assert c == d  # params.seed stands in for the lab's seed


def test_a_balance_reading_settles_to_a_stable_mass_near_the_target():
    reading = measure(balance.weigh, "balance-01", {"target_mg": 50, "material": "standard"})
    out = reading.outputs
    assert out["unit"] == "mg" and out["stable"] is True and out["material"] == "standard"
    assert 48.5 <= out["mass_mg"] <= 51.5 and round(out["mass_mg"], 2) == out["mass_mg"]
    series = out["readings"]["mass_mg"]
    assert len(series) == len(out["readings"]["t_s"]) > 20
    assert series[-1] == out["mass_mg"]
    early, late = series[:5], series[-5:]
    assert max(abs(m - out["mass_mg"]) for m in early) > max(abs(m - out["mass_mg"]) for m in late)
    assert 3.0 <= reading.duration_s <= 5.0  # settling 2-4 s, then a stable second


def test_a_chromatogram_has_a_baseline_and_gaussian_peaks_where_it_says():
    run = measure(
        hplc.inject,
        "hplc-01",
        {"run_time_min": 10, "material": "sample", "concentration_mg_per_ml": 0.5},
    )
    out = run.outputs
    t, mau = out["chromatogram"]["t_min"], out["chromatogram"]["mau"]
    assert len(t) == len(mau) == 10 * 60 * 5 + 1 and t[-1] == 10.0  # 5 Hz over 10 min
    assert [p["name"] for p in out["peaks"]] == ["impurity A", "paracetamol", "impurity B"]
    main = out["peaks"][1]
    assert out["area"] == main["area"] and 4.0 < main["retention_min"] < 4.4
    assert main["area_percent"] > 99.0 and all(p["area_percent"] < 0.5 for p in out["peaks"][::2])
    assert 0.9 <= main["tailing"] <= 1.5 and main["plates"] > 2000
    apex = max(range(len(mau)), key=mau.__getitem__)
    assert abs(t[apex] - main["retention_min"]) < 0.02
    assert abs(mau[apex] - main["height"]) < 0.02 * main["height"]
    baseline = mau[: int(1.5 * 60 * 5)]  # before the first peak
    assert statistics.pstdev(baseline) < 0.2
    assert run.duration_s == 600.0


def test_hplc_area_follows_the_amount_injected_so_the_assay_comes_out_of_the_truth():
    areas = [
        measure(
            hplc.inject,
            "hplc-01",
            {"concentration_mg_per_ml": c, "material": "standard", "seed": s},
        ).outputs["area"]
        for c, s in ((0.25, 1), (0.5, 2), (1.0, 3))
    ]
    assert areas[1] / areas[0] == pytest.approx(2, rel=0.02)
    assert areas[2] / areas[1] == pytest.approx(2, rel=0.02)


def test_a_dissolution_curve_rises_and_saturates_and_gives_the_concentration():
    weighed = {"weigh": {"mass_mg": 50.0, "material": "standard"}}
    out = measure(dissolution.dissolve, "bath-01", {"medium_ml": 100}, weighed).outputs
    curve = out["dissolved_percent"]
    assert out["time_min"] == [0, 5, 10, 15, 20, 30, 45] and curve[0] == 0
    assert curve[-1] > 95 and curve[1] < curve[3] < curve[-1] + 2
    assert out["meets_q80_at_30_min"] and out["material"] == "standard"
    assert out["concentration_mg_per_ml"] == pytest.approx(0.5, rel=0.01)


def test_a_ph_reading_comes_at_once():
    run = measure(ph_meter.measure, "ph-01", {"nominal_ph": 7.4})
    assert run.duration_s == 0 and abs(run.outputs["ph"] - 7.4) < 0.1
    assert run.outputs["calibration_buffers"] == [4.01, 7.0, 10.01]


def test_bad_params_are_named():
    with pytest.raises(InvalidParams, match=r"params.target_mg must be between 1 and 5000"):
        measure(balance.weigh, "balance-01", {"target_mg": 0})
    with pytest.raises(InvalidParams, match="input 'ghost' has no 'mass_mg'"):
        measure(dissolution.dissolve, "bath-01", {"mass_from": "ghost"})


# ---- the service ------------------------------------------------------------------------------


@pytest.fixture
async def lab():
    app = create_app(SimlabSettings(time_scale=0.0005, public_url="http://lab.test"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lab"
    ) as c:
        yield c
    await app.state.lab.close()


async def wait_final(lab, path):
    async with asyncio.timeout(5):
        while (op := (await lab.get(path)).json())["status"] not in {
            "succeeded",
            "failed",
            "aborted",
        }:
            await asyncio.sleep(0.01)
    return op


async def test_the_lab_lists_its_instruments_as_registry_entries(lab):
    instruments = (await lab.get("/instruments")).json()
    assert [i["id"] for i in instruments] == ["balance-01", "hplc-01", "ph-01", "bath-01"]
    hplc_01 = instruments[1]
    assert hplc_01["endpoint"] == "http://lab.test/instruments/hplc-01"
    assert hplc_01["kind"] == "hplc" and hplc_01["status"] == "online" and hplc_01["capacity"] == 1
    assert hplc_01["parameters_schema"]["properties"]["injection_ul"]["maximum"] == 100


async def test_an_operation_runs_then_reports_its_outputs_and_a_key_never_starts_twice(lab):
    body = {"params": {"target_mg": 20}, "inputs": {}}
    first = await lab.post(
        "/instruments/balance-01/operations", json=body, headers={"Idempotency-Key": "t/1"}
    )
    again = await lab.post(
        "/instruments/balance-01/operations", json=body, headers={"Idempotency-Key": "t/1"}
    )
    assert first.status_code == 202 and first.json()["status"] in {"queued", "running"}
    assert again.json()["id"] == first.json()["id"]
    op = await wait_final(lab, f"/instruments/balance-01/operations/{first.json()['id']}")
    assert op["status"] == "succeeded" and op["outputs"]["unit"] == "mg"


async def test_a_ph_reading_is_answered_at_once(lab):
    response = await lab.post("/instruments/ph-01/operations", json={"params": {}})
    assert response.status_code == 200 and response.json()["outputs"]["ph"] > 0


async def test_faults_fail_operations_take_the_instrument_offline_and_recover(lab):
    fault = {"mode": "fail", "message": "lamp energy low", "count": 1}
    assert (await lab.post("/admin/instruments/hplc-01/fault", json=fault)).status_code == 200
    started = (
        await lab.post("/instruments/hplc-01/operations", json={"params": {"run_time_min": 1}})
    ).json()
    op = await wait_final(lab, f"/instruments/hplc-01/operations/{started['id']}")
    assert (op["status"], op["error"]) == ("failed", "lamp energy low")
    started = (
        await lab.post("/instruments/hplc-01/operations", json={"params": {"run_time_min": 1}})
    ).json()
    assert (await wait_final(lab, f"/instruments/hplc-01/operations/{started['id']}"))[
        "status"
    ] == "succeeded"

    await lab.post(
        "/admin/instruments/hplc-01/fault", json={"mode": "offline", "message": "door open"}
    )
    refused = await lab.post("/instruments/hplc-01/operations", json={"params": {}})
    assert refused.status_code == 503 and refused.json()["detail"] == "door open"
    assert (await lab.get("/instruments/hplc-01")).json()["status"] == "offline"
    await lab.post("/admin/instruments/hplc-01/fault", json={"mode": "ok"})
    assert (await lab.get("/instruments/hplc-01")).json()["status"] == "online"


async def test_an_operation_can_be_aborted_and_bad_requests_are_4xx(lab):
    started = (
        await lab.post("/instruments/hplc-01/operations", json={"params": {"run_time_min": 60}})
    ).json()
    aborted = (await lab.post(f"/instruments/hplc-01/operations/{started['id']}/abort")).json()
    assert aborted["status"] == "aborted"
    assert (await lab.post("/instruments/nope/operations", json={})).status_code == 404
    assert (await lab.get("/instruments/hplc-01/operations/op-999999")).status_code == 404
    bad = await lab.post("/instruments/balance-01/operations", json={"params": {"target_mg": -1}})
    assert bad.status_code == 422 and "target_mg" in bad.json()["detail"]
