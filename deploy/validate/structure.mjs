// Unknown-field check for Istio documents.
//
// Why: the validators of @kubernetes-models/istio accept fields the CRD does not declare, so a
// typo such as `failstrategy` passes them, while the API server prunes it silently and the
// plugin runs with the default. The package ships no plain CRD schema, but its type declarations
// (`<Kind>.d.ts`) are generated from the same CRDs (Istio 1.29's crd-all.gen.yaml) and keep
// their structure: an object's declared properties, `{ [key: string]: T }` for a map
// (additionalProperties), `{}` for a free-form part (x-kubernetes-preserve-unknown-fields, e.g.
// pluginConfig), `Array<T>` for a list. This module reads that structure back and walks a
// document against it. `metadata` is left to the API server (ObjectMeta is not Istio's).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Tokens of a declaration file: strings, names, punctuation; comments dropped. */
function tokenize(text) {
  const re = /\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:[^"\\]|\\.)*"|[A-Za-z_$][\w$.]*|\d+|\?:|[{}\[\]<>()|&;:,?=]|\s+/g;
  const tokens = [];
  for (const m of text.matchAll(re)) {
    const t = m[0];
    if (/^\s/.test(t) || t.startsWith("/*") || t.startsWith("//")) continue;
    tokens.push(t);
  }
  return tokens;
}

/**
 * Parses one type at `p.i`. Returns a node:
 * { object: { props, map } } | { array: node } | { free: true } | { scalar: true }.
 * A oneOf comes out as `A & (Exclude<A, ...> | B | C)` where every alternative declares the same
 * properties (only which are required differs): `&` and `|` merge the alternatives' properties.
 */
function parseType(p) {
  const alternatives = [parsePrimary(p)];
  while (p.t[p.i] === "|" || p.t[p.i] === "&") {
    p.i++;
    alternatives.push(parsePrimary(p));
  }
  return merge(alternatives);
}

function merge(nodes) {
  if (nodes.length === 1) return nodes[0];
  if (nodes.some((n) => n.free)) return { free: true };
  const objects = nodes.filter((n) => n.object);
  if (objects.length === 0) return nodes.find((n) => n.array) || nodes[0];
  const props = new Map();
  let map = null;
  for (const { object } of objects) {
    for (const [k, v] of object.props) props.set(k, props.has(k) ? merge([props.get(k), v]) : v);
    map = map || object.map;
  }
  return { object: { props, map } };
}

function parsePrimary(p) {
  const t = p.t[p.i++];
  if (t === "{") return parseObject(p);
  if (t === "(") {
    const inner = parseType(p);
    expect(p, ")");
    return inner;
  }
  if (t === "Exclude") {
    expect(p, "<");
    const kept = parseType(p);
    expect(p, ",");
    parseType(p);
    expect(p, ">");
    return kept;
  }
  if (t === "Array") {
    expect(p, "<");
    const items = parseType(p);
    expect(p, ">");
    return { array: items };
  }
  if (t === "IObjectMeta") return { free: true };
  if (/^"|^(string|number|boolean|null|any|unknown)$/.test(t)) {
    while (p.t[p.i] === "[" && p.t[p.i + 1] === "]") p.i += 2;
    return { scalar: true };
  }
  throw new Error(`unexpected token ${JSON.stringify(t)} at ${p.i - 1}`);
}

/** After `{`: members up to `}`. `{}` is free-form. */
function parseObject(p) {
  const props = new Map();
  let map = null;
  let members = 0;
  while (p.t[p.i] !== "}") {
    members++;
    if (p.t[p.i] === "[") {
      p.i += 4; // [ key : string
      expect(p, "]");
      expect(p, ":");
      map = parseType(p);
    } else {
      const name = JSON.parse(p.t[p.i++]);
      if (p.t[p.i] === "?:") p.i++;
      else expect(p, ":");
      props.set(name, parseType(p));
    }
    if (p.t[p.i] === ";") p.i++;
  }
  p.i++;
  return members === 0 ? { free: true } : { object: { props, map } };
}

function expect(p, token) {
  if (p.t[p.i] !== token) {
    throw new Error(`expected ${token} at token ${p.i}, found ${JSON.stringify(p.t[p.i])}`);
  }
  p.i++;
}

const cache = new Map();

/** The structure of the kind whose model module is `specifier` (e.g. `.../v1/VirtualService`). */
export function structureOf(specifier, kind) {
  if (cache.has(specifier)) return cache.get(specifier);
  const file = fileURLToPath(import.meta.resolve(specifier)).replace(/\.js$/, ".d.ts");
  const t = tokenize(readFileSync(file, "utf8"));
  const start = t.findIndex((x, i) => x === "interface" && t[i + 1] === `I${kind}`);
  if (start < 0) throw new Error(`no interface I${kind} in ${file}`);
  const p = { t, i: start + 2 };
  expect(p, "{");
  const node = parseObject(p);
  cache.set(specifier, node);
  return node;
}

/** Fields of `value` that `node` does not declare, as `/path/field (did you mean X?)`. */
export function unknownFields(node, value, path = "") {
  if (value === null || typeof value !== "object" || node.free || node.scalar) return [];
  if (node.array) {
    return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(node.array, v, `${path}/${i}`)) : [];
  }
  if (!node.object || Array.isArray(value)) return [];
  const { props, map } = node.object;
  const found = [];
  for (const [key, v] of Object.entries(value)) {
    const child = props.get(key) || map;
    if (child) {
      found.push(...unknownFields(child, v, `${path}/${key}`));
      continue;
    }
    const near = [...props.keys()].find((k) => k.toLowerCase() === key.toLowerCase());
    const hint = near ? ` (did you mean ${near}?)` : ` (known: ${[...props.keys()].join(", ")})`;
    found.push(`${path}/${key} is not a field of the CRD${hint}`);
  }
  return found;
}
