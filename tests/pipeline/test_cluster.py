"""A 3-node Ray cluster on this machine loses worker nodes mid-run; the output stays byte-identical.

The run is what a user submits (`ray job submit --working-dir .`), its run directory on the S3 server
(moto on 127.0.0.1). While it runs, one worker node is SIGKILLed (raylet, object store and workers,
as if the machine died) during the fused filter stage, and the other during MinHash's `signatures`
phase. Tasks on a lost node are retried elsewhere (`ray.task_retries`); if the job still fails, a
rerun into the same directory must finish it. Either way the bytes must be those of a one-node run.
"""

from __future__ import annotations

import ipaddress
import json
import random
import subprocess
import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from pipeline.config import load_config
from pipeline.runner import run

from .loopback_probe import descendants, listeners
from .ray_nodes import (
    REPO,
    kill_node,
    ray_env,
    start_head,
    start_worker,
    submit,
    submit_cmd,
    titles,
    wait_nodes,
)

pytestmark = pytest.mark.slow
BUCKET = "winnow-test"
FILES, DOCS_PER_FILE = 15, 80
FILTER_DIR, MINHASH_DIR = "04_fineweb_quality", "05_minhash_dedup"


def _corpus(dest: Path) -> None:
    """FILES JSONL files of real English sentences recombined (seeded), a tenth near-duplicates."""
    sentences: list[str] = []
    for name in ("cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl"):
        for line in (REPO / "data" / "sample" / "en" / name).read_text().splitlines():
            text = json.loads(line)["text"]
            sentences.extend(s.strip() + "." for s in text.replace("\n", " ").split(". ") if len(s) > 40)
    rng = random.Random(7)
    written: list[str] = []
    dest.mkdir(parents=True)
    for f in range(FILES):
        with (dest / f"part-{f:03d}.jsonl").open("w") as out:
            for j in range(DOCS_PER_FILE):
                if written and rng.random() < 0.1:
                    words = rng.choice(written).split()
                    words[rng.randrange(len(words))] = "indeed"
                    text = " ".join(words)
                else:
                    text = "\n".join(" ".join(rng.sample(sentences, 3)) for _ in range(5))
                written.append(text)
                out.write(json.dumps({"id": f"doc-{f:03d}-{j:03d}", "text": text}) + "\n")


def _config(tmp: Path) -> Path:
    """Small shards and batches so every stage has many tasks to lose; 3 at once, one per node."""
    _corpus(tmp / "in")
    path = tmp / "cluster.yaml"
    path.write_text(
        f"name: cluster\nseed: 3\nsources:\n  - {{name: web, format: jsonl, paths: ['{tmp}/in/*.jsonl']}}\n"
        "stages:\n  - {type: gopher_quality}\n  - {type: gopher_repetition}\n  - {type: c4_quality}\n"
        "  - {type: fineweb_quality}\n  - {type: minhash_dedup, threshold: 0.8, partitions: 3}\n"
        "output: {batch_rows: 20, target_shard_mb: 1, report: false}\nray: {num_workers: 3}\n"
    )
    return path


def _s3(env: dict[str, str]) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        endpoint_override=env["AWS_ENDPOINT_URL"], access_key="test", secret_key="test", region="us-east-1"
    )


def _count(fs: pafs.FileSystem, folder: str) -> int:
    try:
        infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    except OSError:
        return 0
    return sum(1 for i in infos if i.path.endswith(".json") and not i.path.endswith("_phase.json"))


def _files(fs: pafs.FileSystem, root: str) -> dict[str, bytes]:
    """Relative path -> bytes of every Parquet shard (kept and rejected) under a run dir."""
    out = {}
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        rel = info.path[len(root) :].lstrip("/")
        if info.type == pafs.FileType.File and rel.endswith(".parquet"):
            with fs.open_input_stream(info.path) as f:
                out[rel] = f.read()
    return out


def _loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """Head (1 CPU, the job's driver) + two worker nodes (1 CPU each) on this machine, every socket of
    every node on loopback (checked from /proc)."""
    env = ray_env()
    temp = tmp_path_factory.mktemp("rayc")
    head, gcs, address = start_head(temp, 1, env, (21000, 21199))
    workers: list[subprocess.Popen] = []
    try:
        for k in range(2):
            workers.append(start_worker(gcs, 1, env, (21200 + 200 * k, 21399 + 200 * k), temp / f"w{k}"))
            try:
                wait_nodes(address, env, 2 + k, workers)
            except BaseException:
                print("\n".join((temp / f"w{i}" / "ray-start.log").read_text()[-1500:] for i in range(k + 1)))
                raise
        pids = [pid for node in [head, *workers] for pid in descendants(node.pid)]
        found = listeners(pids)
        wide = [s for s in found if not _loopback(s[3])]
        assert len({s[0] for s in found}) >= 6 and not wide, f"listening beyond loopback: {wide[:5]}"
        yield {"address": address, "env": env, "workers": workers}
    finally:
        for node in [*workers, head]:  # nothing to keep: SIGKILL is seconds faster than `ray stop`
            if node.poll() is None:
                kill_node(node)


def _kill_when_busy(job: subprocess.Popen, fs: pafs.FileSystem, folder: str, node: subprocess.Popen) -> dict:
    """SIGKILL `node` once 2+ tasks of the stage or phase whose markers are in `folder` are done and the
    node is running one (a Ray worker titled `ray::MapBatches`): the kill lands mid-task, mid-stage."""
    deadline = time.time() + 300
    while job.poll() is None and time.time() < deadline:
        done = _count(fs, folder)
        if done >= 2 and any("ray::MapBatches" in t for t in titles(node).values()):
            busy = [t for t in kill_node(node) if "ray::MapBatches" in t]
            return {"done": done, "busy": len(busy), "left": FILES - _count(fs, folder)}
        time.sleep(0.05)
    return {"done": None, "busy": 0, "left": 0}


def _submit(cluster: dict, args: list[str], env_vars: dict[str, str], log: Path) -> subprocess.Popen:
    """`ray job submit` in the background (its log tail to `log`), once the head's job agent answers."""
    for _ in range(30):
        with log.open("w") as out:
            job = subprocess.Popen(submit_cmd(cluster["address"], args, env_vars), env=cluster["env"],
                                   cwd=REPO, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            job.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return job
        if job.returncode == 0 or "No available agent" not in log.read_text():
            return job
        time.sleep(3)  # the job agent registers a little after the job server answers
    pytest.fail("the head's job agent never registered")


def test_losing_worker_nodes_mid_run_keeps_the_output(
    cluster, s3_server, ray_session, tmp_path: Path
) -> None:
    cfg = _config(tmp_path)
    ref_dir = tmp_path / "single"
    ref = run(load_config(cfg), str(ref_dir))  # the one-node run, on the suite's embedded Ray
    fs, root = _s3(s3_server), f"{BUCKET}/cluster/run"
    args = ["run", str(cfg), "--output", f"s3://{root}", "--no-report"]
    log = tmp_path / "job.log"
    job = _submit(cluster, args, s3_server, log)
    a, b = cluster["workers"]
    kills = {
        "filter": _kill_when_busy(job, fs, f"{root}/{FILTER_DIR}/_stats", a),
        "minhash": _kill_when_busy(job, fs, f"{root}/_work/{MINHASH_DIR}/_phases/signatures", b),
    }
    job.wait(timeout=600)
    rerun = None
    if job.returncode != 0:  # the head alone redoes what is not done
        rerun = submit(cluster["address"], args, cluster["env"], s3_server)
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    retried = log.read_text().count("the node it was running on is dead")
    summary = {"kills": kills, "returncode": job.returncode, "rerun": rerun is not None, "retried": retried}
    print(json.dumps(summary))
    for when, k in kills.items():  # each node died with a task of its own running, work left to do
        assert k["done"] is not None and k["busy"] and k["left"] > 0, (when, k, log.read_text()[-3000:])

    with fs.open_input_stream(f"{root}/manifest.json") as f:
        manifest = json.loads(f.read())
    print(json.dumps({s["name"]: s["totals"] for s in manifest["stages"]}))
    assert manifest["balanced"]
    assert [s["totals"] for s in manifest["stages"]] == [s["totals"] for s in ref["stages"]]
    assert sorted(o["sha256"] for o in manifest["outputs"]) == sorted(o["sha256"] for o in ref["outputs"])
    remote, local = _files(fs, root), _files(pafs.LocalFileSystem(), str(ref_dir))
    assert sorted(remote) == sorted(local) and len(local) > FILES
    assert [k for k in remote if remote[k] != local[k]] == []
