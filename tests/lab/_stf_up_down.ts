/**
 * A stand-in for `main.ts up …` / `main.ts down …` until the CLI is wired: the same argv,
 * parsed minimally, then `runUp`/`runDown`, with main.ts's exit codes (user mistakes 2,
 * failures 1). Lab tests run it inside a namespace.
 *
 * @module
 */
import { runDown } from "../../lib/commands/down.ts";
import { runUp, UP_DEFAULTS } from "../../lib/commands/up.ts";
import { ConfigError, OperationError } from "../../lib/errors.ts";

function parse(args: string[]): Record<string, string | boolean | string[]> {
  const out: Record<string, string | boolean | string[]> = { route: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new SyntaxError(`Unexpected argument "${arg}"`);
    const key = arg.slice(2);
    if (["default-route", "dry-run", "json", "allow-non-global"].includes(key)) {
      out[key] = true;
    } else if (key === "route") {
      (out.route as string[]).push(args[++i]);
    } else if (i + 1 < args.length) {
      out[key] = args[++i];
    } else {
      throw new SyntaxError(`Missing value of ${arg}`);
    }
  }
  return out;
}

function integer(text: unknown, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(String(text))) throw new SyntaxError(`Cannot parse "${text}" as a number`);
  return Number(text);
}

async function main(args: string[]): Promise<number> {
  try {
    const [command, ...rest] = args;
    const o = parse(rest);
    if (command === "up") {
      return await runUp({
        ipv4: (o.ipv4 as string | undefined) ?? UP_DEFAULTS.ipv4,
        name: (o.name as string | undefined) ?? UP_DEFAULTS.name,
        mtu: integer(o.mtu, UP_DEFAULTS.mtu),
        subnet: integer(o.subnet, UP_DEFAULTS.subnet),
        interfaceId: (o["interface-id"] as string | undefined) ?? UP_DEFAULTS.interfaceId,
        relay: o.relay as string | undefined,
        defaultRoute: o["default-route"] === true,
        routes: o.route as string[],
        owner: o.owner as string | undefined,
        allowNonGlobal: o["allow-non-global"] === true,
        dryRun: o["dry-run"] === true,
        json: o.json === true,
        config: o.config as string | undefined,
      });
    }
    if (command === "down") {
      return await runDown({
        name: (o.name as string | undefined) ?? "stf0",
        config: o.config as string | undefined,
        dryRun: o["dry-run"] === true,
        json: o.json === true,
      });
    }
    throw new SyntaxError(`Unknown command "${command}": expected up or down`);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    if (error instanceof SyntaxError || error instanceof RangeError) {
      console.error(`Error: ${error.message}`);
      return 2;
    }
    if (
      error instanceof OperationError || (error instanceof Error && error.name === "SyscallError")
    ) {
      console.error(`Error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
