"""The assay on the simulated lab, end to end: weigh -> dissolve -> HPLC -> analyze.

The four services and laf-simlab run as processes; the lab's instruments are
registered from its own list (GET /instruments), as `make run` does. The lab's
seed is fixed, so the masses, the peak areas and the assay % are known.
"""

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import submit, wait_for_end

DEMO = Path(__file__).resolve().parents[2] / "examples" / "assay-simlab.json"


@pytest.fixture(scope="module")
async def lab(stack):
    stack.start("simlab", LAF_SIMLAB_SEED="42", LAF_SIMLAB_TIME_SCALE="0.0005")
    await asyncio.to_thread(stack.wait_ready, 30, ["simlab"])
    async with httpx.AsyncClient(timeout=10, headers=stack.auth_headers) as client:
        for entry in (await client.get(f"{stack.simlab_url}/instruments")).json():
            response = await client.post(f"{stack.api_url}/api/instruments", json=entry)
            assert response.status_code == 201, response.text
    return stack.simlab_url


def by_name(workflow: dict) -> dict[str, dict]:
    return {task["name"]: task for task in workflow["tasks"]}


async def test_the_assay_runs_on_the_simulated_lab_with_the_expected_numbers(api, lab):
    workflow = await wait_for_end(api, await submit(api, json.loads(DEMO.read_text())), 60)
    tasks = by_name(workflow)
    assert workflow["status"] == "succeeded", {n: t["error"] for n, t in tasks.items()}

    standard, sample = tasks["weigh-standard"]["outputs"], tasks["weigh-sample"]["outputs"]
    assert (standard["mass_mg"], sample["mass_mg"]) == (49.04, 49.81)
    assert standard["stable"] and standard["unit"] == "mg" and len(standard["readings"]["t_s"]) > 20

    dissolved = tasks["dissolve-sample"]["outputs"]
    assert dissolved["time_min"] == [0, 5, 10, 15, 20, 30] and dissolved["meets_q80_at_30_min"]
    assert dissolved["concentration_mg_per_ml"] == pytest.approx(sample["mass_mg"] / 500, rel=0.01)

    hplc_standard, hplc_sample = tasks["hplc-standard"]["outputs"], tasks["hplc-sample"]["outputs"]
    assert (hplc_standard["area"], hplc_sample["area"]) == (5880.2, 5893.3)
    assert [p["name"] for p in hplc_sample["peaks"]] == ["impurity A", "paracetamol", "impurity B"]
    assert len(hplc_sample["chromatogram"]["t_min"]) == 8 * 60 * 5 + 1

    assert tasks["analyze"]["outputs"] == {
        "assay_percent": 98.48,
        "limits": [95.0, 105.0],
        "pass": True,
    }


async def test_an_instrument_error_fails_its_step_with_the_instruments_message(api, lab):
    async with httpx.AsyncClient(timeout=10) as client:
        fault = {"mode": "fail", "message": "UV lamp energy too low", "count": 2}
        (await client.post(f"{lab}/admin/instruments/hplc-01/fault", json=fault)).raise_for_status()
    workflow = await wait_for_end(api, await submit(api, json.loads(DEMO.read_text())), 60)
    tasks = by_name(workflow)
    assert workflow["status"] == "failed"
    failed = [t for t in tasks.values() if t["status"] == "failed"]
    assert failed and all(t["error"] == "hplc-01: UV lamp energy too low" for t in failed)
    assert tasks["analyze"]["status"] == "skipped"
    assert tasks["weigh-standard"]["status"] == "succeeded"
