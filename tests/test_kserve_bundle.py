"""make kserve-bundle: the layout KServe's TorchServe runtime reads, its deliberate settings, the
manifests that point at it, and a real TorchServe started from it as the runtime starts it."""

import json
import socket
import zipfile
from pathlib import Path

import psutil
import pytest
import requests
import yaml

from handlers import handler_class
from harness.settings import archived_model_names, model_families
from harness.torchserve import (CLOSED_ADDRESS, HTTP_TIMEOUT, LOG_CONFIG_ARGUMENT, TorchServe,
                                free_ports, read_properties, write_properties)
from tests.protocol_bodies import plain_examples, v1_body, v2_body, v2_expected
from tests.under_test import MODELS
from tools import kserve_bundle

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "kserve"
# What kserve-torchserve's ServingRuntime runs (config/runtimes/kserve-torchserve.yaml in KServe),
# with the storage URI copied to /mnt/models.
RUNTIME_MODEL_STORE = "/mnt/models/model-store"
RUNTIME_TS_CONFIG = "/mnt/models/config/config.properties"
# The runtime's environment: the protocol for KServe's wrapper, and the envelope TorchServe
# would read if the bundle let environment variables in.
RUNTIME_ENV = {"TS_SERVICE_ENVELOPE": "kservev2", "PROTOCOL_VERSION": "v1"}
# Ports KServe's wrapper takes in the pod (HTTP, gRPC): TorchServe must keep off them.
WRAPPER_PORTS = {8080, 8081}


def in_bundle(bundle: Path, pod_path: str) -> Path:
    """A path under /mnt/models in the pod → the same file in the bundle folder."""
    return bundle / Path(pod_path).relative_to(kserve_bundle.MOUNT)


def log_config(properties) -> str:
    """The bundle's config.properties → the pod path of the log4j configuration vmargs names."""
    chosen = [word[len(LOG_CONFIG_ARGUMENT):] for word in properties["vmargs"].split()
              if word.startswith(LOG_CONFIG_ARGUMENT)]
    assert len(chosen) == 1, properties["vmargs"]
    return chosen[0]


def snapshot(properties) -> dict:
    return json.loads(properties["model_snapshot"])


@pytest.fixture(scope="module")
def bundle(checkpoint_dir, tmp_path_factory) -> Path:
    return kserve_bundle.build(tmp_path_factory.mktemp("kserve") / "bundle", checkpoint_dir, MODELS)


@pytest.fixture(scope="module")
def bundle_properties(bundle) -> dict:
    return read_properties(bundle / "config" / "config.properties")


@pytest.fixture(scope="module")
def inference_service() -> dict:
    return yaml.safe_load((DEPLOY / "inferenceservice.yaml").read_text())


@pytest.fixture(scope="module")
def pod_server(bundle, bundle_properties, tmp_path_factory):
    """TorchServe from the bundle as the runtime starts it (its config, its model store, its
    environment); only the ports move to free loopback ones and /mnt/models to the bundle."""
    workdir = tmp_path_factory.mktemp("kserve_torchserve")
    (workdir / "tmp").mkdir()
    api, metrics, grpc_inference, grpc_management = free_ports(4)
    properties = {key: str(in_bundle(bundle, value)) if value.startswith(kserve_bundle.MOUNT)
                  else value for key, value in bundle_properties.items()}
    properties["vmargs"] = LOG_CONFIG_ARGUMENT + str(in_bundle(bundle, log_config(bundle_properties)))
    properties.update({
        # One port for both APIs, as in the bundle.
        "inference_address": f"http://127.0.0.1:{api}",
        "management_address": f"http://127.0.0.1:{api}",
        "metrics_address": f"http://127.0.0.1:{metrics}",
        "grpc_inference_port": grpc_inference,
        "grpc_management_port": grpc_management,
    })
    config = workdir / "config.properties"
    write_properties(config, properties)
    server = TorchServe(workdir, config, model_store=in_bundle(bundle, RUNTIME_MODEL_STORE),
                        private_tmp=workdir / "tmp", environment=RUNTIME_ENV)
    server.start()
    try:
        server.wait_until_ready(list(snapshot(bundle_properties)["models"]), timeout_s=240)
        yield server
    finally:
        server.stop()


# The bundle's files.

def test_the_bundle_holds_what_the_runtime_reads(bundle, bundle_properties):
    assert in_bundle(bundle, RUNTIME_TS_CONFIG).is_file()
    assert bundle_properties["model_store"] == RUNTIME_MODEL_STORE
    store = in_bundle(bundle, RUNTIME_MODEL_STORE)
    assert sorted(path.name for path in store.iterdir()) == sorted(f"{m}.mar" for m in MODELS)
    assert sorted(archived_model_names(store)) == sorted(MODELS)
    # metrics_config names a file the bundle carries, at its place in the pod.
    assert in_bundle(bundle, bundle_properties["metrics_config"]).read_text() == \
        (ROOT / "metrics.yaml").read_text()
    # So does vmargs' logging configuration.
    assert in_bundle(bundle, log_config(bundle_properties)).read_text() == \
        (ROOT / "log4j2.xml").read_text()


def wrapper_reading(config: Path) -> dict:
    """config.properties read as KServe's wrapper reads it: every line not starting with '#' that
    holds '=', split at the first '=' (kubernetes/kserve/kserve_wrapper/__main__.py, TorchServe)."""
    settings = {}
    for line in config.read_text().splitlines():
        if not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            settings[name.strip()] = value.strip()
    return settings


def test_the_wrapper_reads_the_model_names_and_addresses(bundle, bundle_properties):
    settings = wrapper_reading(in_bundle(bundle, RUNTIME_TS_CONFIG))
    assert settings == bundle_properties
    assert sorted(json.loads(settings["model_snapshot"])["models"]) == sorted(MODELS)


def test_the_snapshot_loads_every_archive_with_its_model_config(bundle, bundle_properties):
    models = snapshot(bundle_properties)["models"]
    assert snapshot(bundle_properties)["modelCount"] == len(models)
    assert sorted(models) == sorted(MODELS)
    store = in_bundle(bundle, RUNTIME_MODEL_STORE)
    for model, versions in models.items():
        (version, entry), = versions.items()
        manifest = kserve_bundle.archive_manifest(store / entry["marName"])["model"]
        assert (manifest["modelName"], manifest["modelVersion"]) == (model, version)
        assert entry["defaultVersion"] is True
        settings = yaml.safe_load((ROOT / "model-config" / f"{model}.yaml").read_text())
        for key in ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "responseTimeout"):
            assert entry[key] == settings[key], (model, key)


def test_archives_size_torch_threads_for_the_pod_cpu_limit(bundle, inference_service):
    cpus = kserve_bundle.pod_cpus()
    limits = inference_service["spec"]["predictor"]["model"]["resources"]["limits"]
    assert cpus == int(limits["cpu"])
    for model in MODELS:
        with zipfile.ZipFile(in_bundle(bundle, RUNTIME_MODEL_STORE) / f"{model}.mar") as mar:
            shipped = yaml.safe_load(mar.read(f"{model}.yaml"))
        settings = yaml.safe_load((ROOT / "model-config" / f"{model}.yaml").read_text())
        wanted = (settings.get("handler") or {}).get("torch_threads") or \
            max(1, cpus // settings["maxWorkers"])
        assert shipped["handler"]["torch_threads"] == wanted, model
        assert {k: v for k, v in shipped.items() if k != "handler"} == \
            {k: v for k, v in settings.items() if k != "handler"}


def test_pod_cpus_reads_millicores_and_whole_cpus(tmp_path):
    for cpu, cpus in (("2", 2), ("1500m", 1), ("500m", 1), (4, 4)):
        manifest = tmp_path / "isvc.yaml"
        manifest.write_text(yaml.safe_dump(
            {"spec": {"predictor": {"model": {"resources": {"limits": {"cpu": cpu}}}}}}))
        assert kserve_bundle.pod_cpus(manifest) == cpus, cpu


# The bundle's deliberate settings.

def test_torchserve_in_the_pod_listens_on_loopback_off_the_wrappers_ports(bundle_properties):
    for key in ("inference_address", "management_address", "metrics_address"):
        address = bundle_properties[key]
        assert address.startswith("http://127.0.0.1:"), key
        assert int(address.rsplit(":", 1)[1]) not in WRAPPER_PORTS, key
    # gRPC inference for the wrapper's grpc-v2 mode, which dials the inference host.
    assert bundle_properties["grpc_inference_address"] == "127.0.0.1"
    for key in ("grpc_inference_port", "grpc_management_port"):
        assert int(bundle_properties[key]) not in WRAPPER_PORTS, key


def test_grpc_management_is_closed_in_the_pod(bundle_properties):
    # Nothing in the pod uses it, and with no keys any process there could scale models.
    assert bundle_properties["grpc_management_address"] == CLOSED_ADDRESS


def test_no_envelope_no_model_api_and_keys_left_to_the_cluster(bundle_properties):
    # TS_SERVICE_ENVELOPE from the runtime must not reach TorchServe.
    assert bundle_properties["enable_envvars_config"] == "false"
    assert "service_envelope" not in bundle_properties
    assert bundle_properties["enable_model_api"] == "false"
    assert bundle_properties["allowed_urls"] == "(?!)"
    assert bundle_properties["disable_token_authorization"] == "true"
    assert bundle_properties["install_py_dep_per_model"] == "false"
    # The same limits as a local server.
    local = read_properties(ROOT / "config.properties")
    for key in ("job_queue_size", "max_request_size", "max_response_size", "metrics_mode"):
        assert bundle_properties[key] == local[key], key


# The manifests.

def test_every_manifest_parses_as_a_kubernetes_object():
    manifests = sorted(DEPLOY.glob("*.yaml"))
    assert manifests
    for path in manifests:
        for document in yaml.safe_load_all(path.read_text()):
            assert {"apiVersion", "kind", "metadata", "spec"} <= set(document), path.name


def test_the_inference_service_runs_the_bundle_on_torchserve_runtime(inference_service,
                                                                        bundle_properties):
    assert inference_service["kind"] == "InferenceService"
    assert inference_service["apiVersion"] == "serving.kserve.io/v1beta1"
    # Not exposed outside the cluster until an authenticating ingress is in front.
    assert inference_service["metadata"]["labels"]["networking.kserve.io/visibility"] == \
        "cluster-local"
    predictor = inference_service["spec"]["predictor"]
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]
    assert predictor["scaleMetric"] == "concurrency" and predictor["scaleTarget"] > 0
    model = predictor["model"]
    assert model["modelFormat"]["name"] == "pytorch"
    assert model["runtime"] == "kserve-torchserve"
    assert model["protocolVersion"] in ("v1", "v2")
    assert model["storageUri"].split("://")[0] in ("gs", "s3", "pvc", "https", "azure")
    assert model["resources"]["requests"] == model["resources"]["limits"]
    # Readiness asks the wrapper for the last model it checks: the wrapper checks them in the
    # snapshot's order, which is sorted by name.
    assert list(snapshot(bundle_properties)["models"]) == sorted(MODELS)
    assert model["readinessProbe"]["httpGet"]["path"] == f"/v1/models/{model_families()[-1]}"


# A real TorchServe from the bundle.

def post(server, path, body, content_type="application/json"):
    """POST to TorchServe's inference address with no key, as KServe's wrapper does."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{server.inference_url}{path}", data=data,
                         headers={"Content-Type": content_type}, timeout=HTTP_TIMEOUT)


@pytest.mark.parametrize("model", MODELS)
def test_the_wrappers_readiness_check_finds_a_ready_worker_without_a_key(pod_server, model):
    response = requests.get(f"{pod_server.management_url}/models/{model}",
                            params={"customized": "false"}, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    workers = response.json()[0]["workers"]
    assert any(worker["status"] == "READY" for worker in workers)


def test_nothing_connects_to_grpc_management_in_the_pod(pod_server):
    port = int(pod_server.properties["grpc_management_port"])
    listeners = [c.laddr for c in pod_server.frontend().net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
    assert [address.ip for address in listeners] == [f"::ffff:{CLOSED_ADDRESS}"], listeners
    for host in (CLOSED_ADDRESS, "127.0.0.1"):
        with pytest.raises(OSError):
            socket.create_connection((host, port), timeout=5).close()


def test_ping_answers_without_a_key(pod_server):
    response = requests.get(f"{pod_server.inference_url}/ping", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200 and response.json()["status"] == "Healthy"


@pytest.mark.parametrize("model", MODELS)
def test_every_model_answers_its_sample(pod_server, model):
    sample, content_type = handler_class(model).sample
    response = post(pod_server, f"/predictions/{model}", (ROOT / sample).read_bytes(), content_type)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert isinstance(answer, dict) and "error" not in answer and "code" not in answer


@pytest.mark.parametrize("model", MODELS)
def test_v1_and_v2_bodies_reach_the_handler_as_sent(pod_server, model):
    """KServe's wrapper posts v1 bodies to /v1/models/<m>:predict and v2 ones to
    /v2/models/<m>/infer; with TS_SERVICE_ENVELOPE=kservev2 in the environment, TorchServe
    must still hand each body to the handler untouched."""
    plain = [post(pod_server, f"/predictions/{model}", body).json()
             for body in plain_examples(model)]
    v1 = post(pod_server, f"/v1/models/{model}:predict", v1_body(model))
    assert v1.status_code == 200, v1.text
    assert v1.json() == {"predictions": plain}
    v2 = post(pod_server, f"/v2/models/{model}/infer", v2_body(model))
    assert v2.status_code == 200, v2.text
    assert v2.json() == v2_expected(model, plain)


def test_the_served_batching_is_the_snapshots(pod_server, bundle_properties):
    for model, versions in snapshot(bundle_properties)["models"].items():
        (entry,) = versions.values()
        description = pod_server.describe(model)[0]
        for key in ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay"):
            assert description[key] == entry[key], (model, key)
