"""Splits manifest files into one file per document, by family, for deploy/validate-manifests.

usage: split.py OUTDIR FILE...

Kubernetes documents go to OUTDIR/k8s/ as YAML (for kubernetes-validate), Istio documents
(apiVersion *.istio.io/*) to OUTDIR/istio/ as JSON (for istio.mjs), Gateway API and Envoy
Gateway documents (gateway.networking.k8s.io, gateway.envoyproxy.io) to OUTDIR/gateway/ as JSON
(for gateway.mjs). Each file name keeps the
origin (file, index, kind, name) so errors point back to it. A document with no apiVersion or
kind is an error here: no validator would look at it.
"""

import json
import os
import re
import sys

import yaml


def family(api_version):
    group = api_version.split("/")[0] if "/" in api_version else ""
    if group.endswith(".istio.io"):
        return "istio"
    if group in ("gateway.networking.k8s.io", "gateway.envoyproxy.io"):
        return "gateway"
    return "k8s"


def main(outdir, files):
    bad = 0
    for fam in ("k8s", "istio", "gateway"):
        os.makedirs(os.path.join(outdir, fam), exist_ok=True)
    for path in files:
        with open(path, encoding="utf-8") as f:
            try:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                print(f"FAIL {path}: not YAML: {e}")
                bad += 1
                continue
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
                print(f"FAIL {path} document {i}: no apiVersion/kind")
                bad += 1
                continue
            name = (doc.get("metadata") or {}).get("name", "unnamed")
            origin = re.sub(r"[^A-Za-z0-9_.-]", "_", path)
            base = f"{origin}--{i}--{doc['kind']}--{name}"
            fam = family(doc["apiVersion"])
            if fam in ("istio", "gateway"):
                with open(os.path.join(outdir, fam, base + ".json"), "w", encoding="utf-8") as out:
                    json.dump({"origin": f"{path} #{i}", "doc": doc}, out)
            else:
                with open(os.path.join(outdir, fam, base + ".yaml"), "w", encoding="utf-8") as out:
                    yaml.safe_dump(doc, out)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
