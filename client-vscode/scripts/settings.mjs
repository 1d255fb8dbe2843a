// Turns the server's config JSON schema (`aicockpit schema`, msgspec) into VS Code's
// `contributes.configuration`: one category per config section, one setting per leaf
// field (`aicockpit.<section>.<field>`), with $refs inlined because package.json has
// no $defs. Works on whatever sections the schema has; client-only settings come
// from client-settings.json and live under `aicockpit.client`.

/** Resolve a `{"$ref": "#/$defs/X"}` (possibly nested) against the schema's $defs. */
function deref(node, defs) {
  while (node && typeof node === "object" && typeof node.$ref === "string") {
    const name = node.$ref.replace(/^#\/\$defs\//, "");
    if (!(name in defs)) throw new Error(`unknown $ref ${node.$ref}`);
    node = defs[name];
  }
  return node;
}

/** A copy of `node` with every $ref replaced by its definition (recursively). */
export function inline(node, defs, seen = []) {
  if (Array.isArray(node)) return node.map((item) => inline(item, defs, seen));
  if (!node || typeof node !== "object") return node;
  if (typeof node.$ref === "string") {
    if (seen.includes(node.$ref)) throw new Error(`recursive $ref ${node.$ref}`);
    return inline(deref(node, defs), defs, [...seen, node.$ref]);
  }
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$defs" || key === "title") continue;
    out[key] = inline(value, defs, seen);
  }
  return out;
}

/** `anyOf: [T, {type: null}]` (msgspec's `T | None`) becomes `type: [T, "null"]` when T is simple. */
function simplifyNullable(setting) {
  const variants = setting.anyOf;
  if (!Array.isArray(variants)) return setting;
  const simple = variants.every((v) => Object.keys(v).length === 1 && typeof v.type === "string");
  if (!simple) return setting;
  const rest = { ...setting, type: variants.map((v) => v.type) };
  delete rest.anyOf;
  return rest;
}

function isStruct(node) {
  return node && node.type === "object" && node.properties && typeof node.properties === "object";
}

/** The leaf settings under `prefix`, in the schema's field order. */
function leaves(node, prefix, defs, out) {
  for (const [name, raw] of Object.entries(node.properties)) {
    const key = `${prefix}.${name}`;
    const resolved = deref(raw, defs);
    if (isStruct(resolved) && resolved.additionalProperties === false) {
      leaves(resolved, key, defs, out);
      continue;
    }
    let setting = inline(raw, defs);
    if ("default" in raw && !("default" in setting)) setting.default = raw.default;
    setting = simplifyNullable(setting);
    if (!setting.description && resolved.description) setting.description = resolved.description;
    out[key] = setting;
  }
  return out;
}

/**
 * @param schema the JSON schema printed by `aicockpit schema`
 * @param client the client-only settings (already VS Code settings, keyed `aicockpit.client.*`)
 * @returns the `contributes.configuration` array
 */
export function configurationFromSchema(schema, client) {
  const defs = schema.$defs ?? {};
  const root = deref(schema, defs);
  if (!isStruct(root)) throw new Error("the config schema's root is not an object with properties");
  if ("client" in root.properties) throw new Error("the server config has a `client` section, reserved for the extension");
  const categories = [{ id: "aicockpit.client", title: "Client", properties: client }];
  // Top-level fields that are not sections go to one "General" category.
  const general = { id: "aicockpit.general", title: "General", properties: {} };
  let order = 0;
  for (const [name, raw] of Object.entries(root.properties)) {
    const node = deref(raw, defs);
    if (!isStruct(node)) {
      general.properties[`aicockpit.${name}`] = leaves({ properties: { [name]: raw } }, "aicockpit", defs, {})[`aicockpit.${name}`];
      continue;
    }
    const properties = leaves(node, `aicockpit.${name}`, defs, {});
    categories.push({ id: `aicockpit.${name}`, title: (node.description ?? name).replace(/\.$/, ""), properties });
  }
  if (Object.keys(general.properties).length > 0) categories.splice(1, 0, general);
  for (const category of categories.slice(1)) {
    for (const setting of Object.values(category.properties)) setting.order = order++;
  }
  return categories;
}
