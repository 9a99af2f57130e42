"""The audit record through the running stack: a runner's large output goes to the data
store by content hash and the report refers to it; attempts keep their outputs' hash and
reporter; the chain verifies, and the API writes signed checkpoints by itself."""

import asyncio
import hashlib
import json

from laf_core.canonical import canonical_json, sha256_of

from .conftest import submit, wait_for_end


async def test_a_large_output_is_stored_by_hash_and_referenced(api):
    points = [[i / 10, (i % 37) * 1.5] for i in range(40_000)]  # ~0.6 MB of a chromatogram
    wf = await submit(
        api,
        {
            "name": "chromatogram",
            "tasks": [
                {
                    "name": "acquire",
                    "executor": "python",
                    "params": {"function": "laf_runner.library:echo", "value": points},
                },
            ],
        },
    )
    done = await wait_for_end(api, wf, timeout=60)
    assert done["status"] == "succeeded", done
    outputs = done["tasks"][0]["outputs"]
    ref = outputs["value"]
    assert set(ref) == {"$blob", "size", "media_type"}, "the large value goes by reference"
    digest = ref["$blob"].removeprefix("sha256:")
    stored = await api.get(f"/api/blobs/{digest}")
    assert stored.status_code == 200
    assert hashlib.sha256(stored.content).hexdigest() == digest
    assert json.loads(stored.content) == points
    assert stored.content == canonical_json(points)

    record = (await api.get(f"/api/workflows/{wf}/record")).json()
    attempt = record["tasks"][0]["attempts"][-1]
    assert attempt["outputs_sha256"] == sha256_of(outputs)
    assert attempt["reported_by"].startswith("runner:")
    assert len(json.dumps(record["tasks"])) < 5_000, "results and attempts stay small"


async def test_the_chain_verifies_and_checkpoints_are_written(api):
    wf = await submit(api, {"name": "w", "tasks": [{"name": "a", "executor": "noop"}]})
    assert (await wait_for_end(api, wf))["status"] == "succeeded"
    async with asyncio.timeout(30):  # LAF_API_AUDIT_CHECKPOINT_S is 10 s by default
        while True:
            verdict = (await api.get("/api/audit/verify")).json()
            assert verdict["ok"], verdict
            if verdict["checkpoint"] is not None:
                break
            await asyncio.sleep(0.5)
    assert verdict["rows"] > 0 and verdict["checkpoint"]["chains"] > 0
    stored = await api.post("/api/blobs", content=b"raw", headers={"X-Content-SHA256": "0" * 64})
    assert stored.status_code == 422
