"""Validates every document of deploy/kubernetes/*.yaml (see scripts/check-manifests)."""

import copy
import json
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = REPO / "deploy" / "kubernetes"
# The Kubernetes version whose schemas the built-in kinds are checked against.
KUBERNETES_VERSION = "1.33.0"


def custom_schema(document):
    group, _, version = document.get("apiVersion", "").rpartition("/")
    path = MANIFESTS / "schemas" / f"{group}_{version}_{document.get('kind')}.json"
    return json.loads(path.read_text()) if group and path.exists() else None


def problems(document):
    """What is wrong with one manifest document (an empty list: nothing)."""
    if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
        return ["not a Kubernetes object (no kind or apiVersion)"]
    schema = custom_schema(document)
    if schema is not None:
        validator = jsonschema.Draft202012Validator(schema)
        return [f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}" for error in validator.iter_errors(document)]
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'/'.join(map(str, error.path)) or '(top)'}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"no schema for {document['apiVersion']} {document['kind']}: {error}"]
    return []


def broken_copies(documents):
    """Mistakes the check must catch, one per copy: (what, document)."""
    by_kind = {document["kind"]: document for document in documents}
    cases = []

    def case(kind, what, change):
        if kind in by_kind:
            broken = copy.deepcopy(by_kind[kind])
            change(broken)
            cases.append((f"{kind}: {what}", broken))

    case("Deployment", "a misspelt probe field",
         lambda d: d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"].update(periodSecond=2))
    case("Deployment", "a port number as text",
         lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="11435"))
    case("Service", "no ports' list but a map", lambda d: d["spec"].update(ports={"http": 80}))
    case("InferencePool", "no target ports", lambda d: d["spec"].pop("targetPorts"))
    case("InferencePool", "port 0", lambda d: d["spec"]["targetPorts"][0].update(number=0))
    case("InferencePool", "an unknown failure mode", lambda d: d["spec"]["endpointPickerRef"].update(failureMode="Retry"))
    case("HTTPRoute", "a backend without a name", lambda d: d["spec"]["rules"][0]["backendRefs"][0].pop("name"))
    case("HTTPRoute", "a timeout in words", lambda d: d["spec"]["rules"][0]["timeouts"].update(request="ten minutes"))
    return cases


def main():
    documents = []
    passed = failed = 0
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document is None:
                continue
            name = f"{path.relative_to(REPO)} #{index + 1} {document.get('kind')} {document.get('metadata', {}).get('name')}"
            found = problems(document)
            if found:
                failed += 1
                print(f"FAIL {name}:\n  " + "\n  ".join(found))
            else:
                passed += 1
                documents.append(document)
                print(f"ok   {name}")
    kinds = {document["kind"] for document in documents}
    for required in ("Deployment", "Service", "InferencePool", "HTTPRoute"):
        if required not in kinds:
            failed += 1
            print(f"FAIL no valid {required} under {MANIFESTS.relative_to(REPO)}")
    for what, broken in broken_copies(documents):
        if problems(broken):
            passed += 1
            print(f"ok   refused: {what}")
        else:
            failed += 1
            print(f"FAIL accepted a broken copy: {what}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
