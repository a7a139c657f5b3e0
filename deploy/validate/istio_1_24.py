"""Validates Istio documents against Istio 1.24's CRD schemas, the oldest Istio Veer supports.

usage: istio_1_24.py FILE.json...   (files written by split.py; exit 1 on any problem)

Why a second schema set: istio.mjs checks against Istio 1.29's CRDs, which accept values older
Istios refuse, e.g. `failStrategy: FAIL_RELOAD` (added in 1.27: the 1.24 to 1.26 CRDs allow only
FAIL_CLOSE and FAIL_OPEN, and the API server answers 422). The schemas here are PyPI
`cloudcoil-models-istio==1.24.2.1`, pydantic models generated from Istio 1.24.2's CRDs (pinned
with their dependencies in istio-1.24-requirements.txt); no npm package carries a schema of an
Istio between 1.18 and 1.29. The models accept fields they do not declare, so they are made to
refuse them (`extra="forbid"`) before validating: a field 1.29 added is unknown to 1.24 too.
"""

import inspect
import json
import sys

import pydantic
from cloudcoil.models.istio.extensions import v1alpha1 as extensions_v1alpha1
from cloudcoil.models.istio.networking import v1 as networking_v1
from cloudcoil.models.istio.networking import v1alpha3 as networking_v1alpha3
from cloudcoil.models.istio.networking import v1beta1 as networking_v1beta1

SCHEMA = "Istio 1.24 schema"

MODULES = {
    "extensions.istio.io/v1alpha1": extensions_v1alpha1,
    "networking.istio.io/v1": networking_v1,
    "networking.istio.io/v1beta1": networking_v1beta1,
    "networking.istio.io/v1alpha3": networking_v1alpha3,
}


def forbid_unknown_fields(module):
    """Makes every model the module defines refuse undeclared fields. Rebuilt in rounds, since a
    model embeds the schema its field types had when it was built."""
    models = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, pydantic.BaseModel) and cls.__module__ == module.__name__
    ]
    for cls in models:
        cls.model_config["extra"] = "forbid"
    for _ in range(8):
        for cls in models:
            cls.model_rebuild(force=True)


def path(loc):
    return "/" + "/".join(str(part) for part in loc)


def main(files):
    for module in MODULES.values():
        forbid_unknown_fields(module)
    failures = 0
    for f in files:
        with open(f, encoding="utf-8") as fh:
            entry = json.load(fh)
        origin, doc = entry["origin"], entry["doc"]
        name = (doc.get("metadata") or {}).get("name")
        module = MODULES.get(doc.get("apiVersion"))
        model = getattr(module, doc.get("kind", ""), None) if module else None
        if model is None:
            print(f"FAIL {origin}: {SCHEMA}: no schema for {doc.get('apiVersion')}/{doc.get('kind')}")
            failures += 1
            continue
        try:
            model.model_validate(doc)
        except pydantic.ValidationError as e:
            for err in e.errors():
                # ObjectMeta is the API server's, not Istio's: left to it (as istio.mjs does).
                if err["loc"] and err["loc"][0] == "metadata":
                    continue
                print(f"FAIL {origin}: {SCHEMA}: {doc['kind']} {name}: {path(err['loc'])} {err['msg']}")
                failures += 1
    print(f"istio 1.24: {len(files)} documents checked, {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
