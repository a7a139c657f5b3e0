// Validates Gateway API and Envoy Gateway documents (JSON files written by split.py):
// - Gateway API kinds (gateway.networking.k8s.io/v1) against the Gateway API's CRD schemas
//   (@kubernetes-models/gateway-api: types, enums, patterns, required fields). Not checked: fields
//   the CRD does not declare (these models accept them, and their type declarations are split
//   over many files that structure.mjs does not follow);
// - Envoy Gateway kinds (gateway.envoyproxy.io/v1alpha1 EnvoyProxy, EnvoyExtensionPolicy): no
//   registry package ships their CRD schemas (searched: npm, PyPI), so they are checked
//   structurally against envoy-gateway.mjs, a schema of the fields Veer uses written from Envoy
//   Gateway's API types (unknown fields, types, required fields, patterns, the CRD's CEL rules);
// - Veer's own safety rules across the set: the policy loads a module the EnvoyProxy allowlist
//   registers, targets a Gateway of the set (the filter runs on every request, so a client-sent
//   x-veer-cluster is always removed), every cluster its routing config names has an HTTPRoute
//   header rule, and every HTTPRoute of that Gateway ends with a rule without matches (the stable
//   fallback).
// usage: node gateway.mjs FILE.json...   exit 1 on any problem.

import { readFileSync } from "node:fs";
import * as v1 from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { checkEnvoyGateway } from "./envoy-gateway.mjs";

const gatewayApi = {
  "gateway.networking.k8s.io/v1/Gateway": v1.Gateway,
  "gateway.networking.k8s.io/v1/GatewayClass": v1.GatewayClass,
  "gateway.networking.k8s.io/v1/HTTPRoute": v1.HTTPRoute,
};

let failures = 0;
const fail = (origin, message) => {
  failures++;
  console.log(`FAIL ${origin}: ${message}`);
};

const docs = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, "utf8")));
const valid = [];
for (const { origin, doc } of docs) {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const name = `${doc.kind} ${doc.metadata?.name}`;
  if (doc.apiVersion?.startsWith("gateway.envoyproxy.io/")) {
    const problems = checkEnvoyGateway(doc);
    problems.forEach((p) => fail(origin, `${name}: ${p}`));
    if (problems.length === 0) valid.push(doc);
    continue;
  }
  const Model = gatewayApi[key];
  if (!Model) {
    fail(origin, `no Gateway API schema for ${key}: unknown kind or version`);
    continue;
  }
  try {
    new Model(doc).validate();
    valid.push(doc);
  } catch (e) {
    const details = (e.errors || []).map((x) => `${x.instancePath || "/"} ${x.message}`).join("; ");
    fail(origin, `${name}: ${details || e.message}`);
  }
}

const ns = (doc) => doc.metadata?.namespace || "default";
const find = (kind, name, namespace) =>
  valid.find((d) => d.kind === kind && d.metadata?.name === name && ns(d) === namespace);

for (const policy of valid.filter((d) => d.kind === "EnvoyExtensionPolicy")) {
  const where = `EnvoyExtensionPolicy ${policy.metadata.name}`;
  const modules = policy.spec.dynamicModule || [];
  if (modules.length === 0) continue;
  const gateways = [];
  for (const ref of policy.spec.targetRefs || []) {
    const gateway = ref.kind === "Gateway" && find("Gateway", ref.name, ns(policy));
    if (!gateway) {
      fail(where, `targets ${ref.kind} ${ref.name}: Veer's filter must target a Gateway of this set, so that it runs on every request and removes a client-sent x-veer-cluster before any route obeys it`);
      continue;
    }
    gateways.push(gateway);
  }
  for (const gateway of gateways) {
    const cls = valid.find((d) => d.kind === "GatewayClass" && d.metadata.name === gateway.spec.gatewayClassName);
    const p = cls?.spec.parametersRef;
    const proxy = p?.kind === "EnvoyProxy" && find("EnvoyProxy", p.name, p.namespace || ns(gateway));
    if (!proxy) {
      fail(where, `Gateway ${gateway.metadata.name}'s class ${gateway.spec.gatewayClassName} has no EnvoyProxy of this set (parametersRef): no dynamicModules allowlist`);
      continue;
    }
    const registered = new Set((proxy.spec.dynamicModules || []).map((m) => m.name));
    for (const m of modules) {
      if (!registered.has(m.name)) {
        fail(where, `dynamic module ${m.name} is not registered in EnvoyProxy ${proxy.metadata.name}'s dynamicModules allowlist`);
      }
    }
    const routes = valid.filter((d) => d.kind === "HTTPRoute" && ns(d) === ns(gateway)
      && (d.spec.parentRefs || []).some((r) => r.name === gateway.metadata.name));
    for (const m of modules) checkRoutes(where, m.config || {}, routes);
  }
}

/** Every cluster of Veer's config has a header rule; every route ends with a fallback. */
function checkRoutes(where, config, routes) {
  const header = config.headers?.cluster || "x-veer-cluster";
  const obeyed = new Set();
  for (const route of routes) {
    const rules = route.spec.rules || [];
    const last = rules[rules.length - 1];
    if (!last || (last.matches || []).length > 0) {
      fail(where, `HTTPRoute ${route.metadata.name} does not end with a rule without matches: a request without ${header} (or with a value no rule names) would get a 404`);
    }
    for (const rule of rules) {
      for (const match of rule.matches || []) {
        for (const h of match.headers || []) {
          if (h.name.toLowerCase() === header && (h.type || "Exact") === "Exact") obeyed.add(h.value);
        }
      }
    }
  }
  for (const service of config.services || []) {
    for (const variant of service.variants || []) {
      if (!obeyed.has(variant.cluster)) {
        fail(where, `service ${service.name} variant ${variant.name} goes to cluster ${variant.cluster}, but no HTTPRoute rule matches ${header}: ${variant.cluster}`);
      }
    }
  }
}

console.log(`gateway: ${docs.length} documents checked, ${failures} problems`);
process.exit(failures ? 1 : 0);
