// Types for settings.mjs (plain JavaScript so the generator runs without a build).
export function inline(node: unknown, defs: Record<string, unknown>): unknown;
export function configurationFromSchema(
  schema: unknown,
  client: Record<string, unknown>,
): { id: string; title: string; properties: Record<string, Record<string, unknown>> }[];
