// A structural schema of the Envoy Gateway fields Veer's manifests use (gateway.envoyproxy.io/
// v1alpha1 EnvoyProxy and EnvoyExtensionPolicy), written from Envoy Gateway's API types: no npm or
// PyPI package ships those CRD schemas. A field outside this schema is reported, like an unknown
// field: either a typo, or a field this file must learn before Veer's manifests may use it.
// Patterns, enums, required fields and the CRD's CEL rules for dynamic module sources are the
// API's.

const str = (extra = {}) => ({ type: "string", ...extra });
const bool = { type: "boolean" };
const obj = (props, required = []) => ({ type: "object", props, required });
const list = (items, extra = {}) => ({ type: "array", items, ...extra });
const any = { any: true };
const moduleName = str({ pattern: /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, maxLength: 253 });

const metadata = obj({ name: str(), namespace: str(), labels: any, annotations: any }, ["name"]);
const targetRef = obj({ group: str(), kind: str(), name: str(), sectionName: str() }, ["group", "kind", "name"]);

const source = {
  ...obj({
    type: str({ enum: ["Local", "Remote"] }),
    local: obj({ path: str({ pattern: /^\//, maxLength: 4096 }) }, ["path"]),
    remote: obj({
      url: str({ pattern: /^https?:\/\/[^/?#]+(?:[/?#].*)?$/, maxLength: 4096 }),
      sha256: str({ pattern: /^[a-f0-9]{64}$/ }),
    }, ["url", "sha256"]),
  }),
  // The CRD's CEL rules (x-kubernetes-validations); type defaults to Local.
  rules: [
    [(s) => (s.type === "Remote") === (s.remote !== undefined), "If type is Remote, remote field needs to be set (and only then)"],
    [(s) => (s.type || "Local") !== "Local" || s.local !== undefined, "If type is Local, local field needs to be set"],
    [(s) => s.type !== "Remote" || s.local === undefined, "If type is Remote, local field must not be set"],
  ],
};

const schemas = {
  "gateway.envoyproxy.io/v1alpha1/EnvoyProxy": obj({
    apiVersion: str(),
    kind: str(),
    metadata,
    spec: obj({
      dynamicModules: list(obj({
        name: moduleName,
        source,
        doNotClose: bool,
        loadGlobally: bool,
      }, ["name", "source"])),
      // A bootstrap merged into (or replacing, or patching) Envoy Gateway's default one: Veer's
      // stats_tags. The CRD's CEL rule: JSONPatch needs patches, the other types a value.
      bootstrap: {
        ...obj({
          type: str({ enum: ["Merge", "Replace", "JSONPatch"] }),
          value: str(),
          jsonPatches: list(obj({ op: str({ enum: ["add", "remove", "replace", "move", "copy", "test"] }), path: str(), from: str(), value: any }, ["op"])),
        }),
        rules: [
          [(b) => ((b.type || "Replace") === "JSONPatch" ? (b.jsonPatches || []).length > 0 : b.value !== undefined),
            "provided bootstrap patch doesn't match the configured patch type"],
        ],
      },
      provider: obj({
        type: str({ enum: ["Kubernetes", "Custom"] }),
        kubernetes: obj({
          envoyDeployment: obj({
            replicas: { type: "number" },
            container: obj({ image: str(), resources: any, env: any, volumeMounts: any }),
            pod: any,
          }),
        }),
      }, ["type"]),
    }),
  }, ["apiVersion", "kind", "metadata", "spec"]),
  "gateway.envoyproxy.io/v1alpha1/EnvoyExtensionPolicy": obj({
    apiVersion: str(),
    kind: str(),
    metadata,
    spec: obj({
      targetRefs: list(targetRef, { minItems: 1 }),
      dynamicModule: list(obj({
        name: moduleName,
        filterName: str({ maxLength: 253 }),
        config: any,
        terminalFilter: bool,
      }, ["name"]), { maxItems: 16 }),
    }),
  }, ["apiVersion", "kind", "metadata", "spec"]),
};

function typeOf(v) {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  return typeof v;
}

function walk(schema, value, path, out) {
  if (schema.any) return;
  if (typeOf(value) !== schema.type) {
    out.push(`${path || "/"}: must be ${schema.type}, is ${typeOf(value)}`);
    return;
  }
  if (schema.type === "string") {
    if (schema.enum && !schema.enum.includes(value)) out.push(`${path}: must be one of ${schema.enum.join(", ")}`);
    if (schema.pattern && !schema.pattern.test(value)) out.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.maxLength && value.length > schema.maxLength) out.push(`${path}: longer than ${schema.maxLength}`);
  }
  if (schema.type === "array") {
    if (schema.minItems && value.length < schema.minItems) out.push(`${path}: needs at least ${schema.minItems} item(s)`);
    if (schema.maxItems && value.length > schema.maxItems) out.push(`${path}: at most ${schema.maxItems} items`);
    value.forEach((v, i) => walk(schema.items, v, `${path}/${i}`, out));
  }
  if (schema.type === "object") {
    for (const r of schema.required) if (value[r] === undefined) out.push(`${path}/${r}: required`);
    for (const [k, v] of Object.entries(value)) {
      if (!schema.props[k]) out.push(`${path}/${k}: unknown field (not in Envoy Gateway's API as envoy-gateway.mjs knows it)`);
      else walk(schema.props[k], v, `${path}/${k}`, out);
    }
    for (const [rule, message] of schema.rules || []) if (!rule(value)) out.push(`${path || "/"}: ${message}`);
  }
}

/** Problems of one Envoy Gateway document (empty: valid). */
export function checkEnvoyGateway(doc) {
  const schema = schemas[`${doc.apiVersion}/${doc.kind}`];
  if (!schema) return [`no schema for ${doc.apiVersion}/${doc.kind}: unknown kind or version`];
  const out = [];
  walk(schema, doc, "", out);
  return out;
}
