// Validates Istio documents (JSON files written by split.py) against Istio's CRD schemas
// (@kubernetes-models/istio, generated from Istio 1.29's CRDs), then checks the rules those
// schemas do not enforce (the CRDs' CEL rules and Veer's own safety rules):
// - WasmPlugin: `selector` and `targetRefs` (or `targetRef`) not both; `sha256` is 64 hex digits
//   and not all zeros (a placeholder); `failStrategy` is not FAIL_OPEN (a skipped filter lets a
//   client-sent x-veer-cluster route);
// - every subset a VirtualService routes to exists in a DestinationRule of the same set;
// - no field the CRD does not declare (the models accept unknown fields; structure.mjs).
// usage: node istio.mjs FILE.json...   exit 1 on any problem.

import { readFileSync } from "node:fs";
import { WasmPlugin } from "@kubernetes-models/istio/extensions.istio.io/v1alpha1/WasmPlugin";
import * as v1 from "@kubernetes-models/istio/networking.istio.io/v1";
import * as v1beta1 from "@kubernetes-models/istio/networking.istio.io/v1beta1";
import * as v1alpha3 from "@kubernetes-models/istio/networking.istio.io/v1alpha3";
import { structureOf, unknownFields } from "./structure.mjs";

const models = {
  "extensions.istio.io/v1alpha1/WasmPlugin": WasmPlugin,
  "networking.istio.io/v1/VirtualService": v1.VirtualService,
  "networking.istio.io/v1/DestinationRule": v1.DestinationRule,
  "networking.istio.io/v1beta1/VirtualService": v1beta1.VirtualService,
  "networking.istio.io/v1beta1/DestinationRule": v1beta1.DestinationRule,
  "networking.istio.io/v1alpha3/VirtualService": v1alpha3.VirtualService,
  "networking.istio.io/v1alpha3/DestinationRule": v1alpha3.DestinationRule,
};

let failures = 0;
const fail = (origin, message) => {
  failures++;
  console.log(`FAIL ${origin}: ${message}`);
};

const docs = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, "utf8")));

/** `name` and namespace of a host, so `web` in veer-demo equals `web.veer-demo.svc.cluster.local`. */
function hostKey(host, namespace) {
  const parts = host.split(".");
  return parts.length === 1 ? `${parts[0]}.${namespace}` : `${parts[0]}.${parts[1]}`;
}

const subsets = new Map(); // host key -> Set of subset names
for (const { origin, doc } of docs) {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const Model = models[key];
  if (!Model) {
    fail(origin, `no Istio schema for ${key}: unknown kind or version`);
    continue;
  }
  const structure = structureOf(`@kubernetes-models/istio/${key}`, doc.kind);
  for (const u of unknownFields(structure, doc)) fail(origin, `${doc.kind} ${doc.metadata?.name}: ${u}`);
  try {
    new Model(doc).validate();
  } catch (e) {
    const details = (e.errors || []).map((x) => `${x.instancePath || "/"} ${x.message}`).join("; ");
    fail(origin, `${doc.kind} ${doc.metadata?.name}: ${details || e.message}`);
    continue;
  }
  const spec = doc.spec || {};
  const ns = doc.metadata?.namespace || "default";
  if (doc.kind === "WasmPlugin") {
    if (spec.selector && (spec.targetRefs || spec.targetRef)) {
      fail(origin, "WasmPlugin sets both selector and targetRefs; Istio allows only one");
    }
    if (spec.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(spec.sha256)) {
      fail(origin, `WasmPlugin sha256 ${JSON.stringify(spec.sha256)} is not 64 lowercase hex digits`);
    } else if (/^0+$/.test(spec.sha256 ?? "")) {
      fail(origin, "WasmPlugin sha256 is all zeros, a placeholder: Istio would refuse every module; give the real digest (veerctl mesh install --sha256 or --wasm) or leave sha256 out");
    }
    if (spec.failStrategy === "FAIL_OPEN") {
      fail(origin, "WasmPlugin failStrategy FAIL_OPEN: a failed filter is skipped and a client-sent x-veer-cluster would choose the route; use FAIL_CLOSE (or FAIL_RELOAD on Istio 1.27 and later)");
    }
  }
  if (doc.kind === "DestinationRule") {
    const set = subsets.get(hostKey(spec.host, ns)) || new Set();
    for (const s of spec.subsets || []) set.add(s.name);
    subsets.set(hostKey(spec.host, ns), set);
  }
}

for (const { origin, doc } of docs) {
  if (doc.kind !== "VirtualService") continue;
  const ns = doc.metadata?.namespace || "default";
  for (const route of doc.spec?.http || []) {
    for (const r of route.route || []) {
      const d = r.destination || {};
      if (d.subset && !subsets.get(hostKey(d.host, ns))?.has(d.subset)) {
        fail(origin, `VirtualService ${doc.metadata?.name} route ${route.name || "?"} sends to subset ${d.subset} of ${d.host}, which no DestinationRule defines`);
      }
    }
  }
}

console.log(`istio: ${docs.length} documents checked, ${failures} problems`);
process.exit(failures ? 1 : 0);
