/**
 * The `/metrics` endpoint: `Deno.serve` on the configured `ADDR:PORT`, the exposition of
 * {@link renderMetrics} on `GET /metrics`, 404 elsewhere. It runs on the main thread, which
 * the Workers leave free; each scrape reads the shared counters once.
 *
 * @module
 */
import type { CounterSnapshot } from "../dataplane/counters.ts";
import { OperationError } from "../errors.ts";
import { METRICS_CONTENT_TYPE, type MetricsInfo, renderMetrics } from "./render.ts";

/** What one scrape reads. */
export interface MetricsSource {
  /** The counters now. */
  readonly snapshot: CounterSnapshot;
  /** The forwarder's facts now. */
  readonly info: MetricsInfo;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The port listened on (the one asked for, or the one the kernel chose for port 0). */
  readonly port: number;
  /** The address listened on, as given (`0.0.0.0`, `::1`, …). */
  readonly hostname: string;
  /** Stops listening; resolves when open connections are done. */
  close(): Promise<void>;
}

/**
 * Splits `IPV4:PORT` or `[IPV6]:PORT` into a hostname and a port (0 allowed: any free port).
 *
 * @param listen the address
 * @throws {SyntaxError} when it is not of that form
 * @throws {RangeError} when the port is above 65535
 */
export function parseListenAddress(listen: string): { hostname: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(listen);
  if (match === null) {
    throw new SyntaxError(
      `Cannot use "${listen}" as a metrics address: expected IPV4:PORT or [IPV6]:PORT`,
    );
  }
  const port = Number(match[3]);
  if (port > 65535) {
    throw new RangeError(`Cannot use "${listen}" as a metrics address: port must be 1..65535`);
  }
  return { hostname: match[1] ?? match[2], port };
}

/**
 * Serves `/metrics` on `listen` until closed.
 *
 * @param listen `IPV4:PORT` or `[IPV6]:PORT` (the config's `metrics` key, `--metrics`)
 * @param source called on each scrape
 * @throws {OperationError} when the address cannot be listened on (in use, not local), or
 *   DENO_SERVE_ADDRESS made Deno listen elsewhere
 */
export function serveMetrics(listen: string, source: () => MetricsSource): MetricsServer {
  const { hostname, port } = parseListenAddress(listen);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port, onListen: () => {} }, (request) => {
      const path = new URL(request.url).pathname;
      if (path !== "/metrics") return new Response("Not found: try /metrics\n", { status: 404 });
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("Method not allowed\n", {
          status: 405,
          headers: { allow: "GET, HEAD" },
        });
      }
      const { snapshot, info } = source();
      return new Response(request.method === "HEAD" ? null : renderMetrics(snapshot, info), {
        headers: { "content-type": METRICS_CONTENT_TYPE },
      });
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new OperationError(`Cannot serve metrics on "${listen}": ${reason}`, { cause: error });
  }
  // Deno lets the environment variable DENO_SERVE_ADDRESS override the address given to
  // Deno.serve (e.g. to 0.0.0.0): a root stf must not publish its metrics anywhere but where
  // the configuration says.
  const bound = server.addr;
  if (bound.hostname !== hostname || (port !== 0 && bound.port !== port)) {
    server.shutdown();
    throw new OperationError(
      `Cannot serve metrics on "${listen}": Deno listened on ${bound.hostname}:${bound.port} ` +
        `instead (DENO_SERVE_ADDRESS="${Deno.env.get("DENO_SERVE_ADDRESS") ?? ""}"); unset ` +
        `DENO_SERVE_ADDRESS`,
    );
  }
  return {
    port: bound.port,
    hostname,
    close: () => server.shutdown(),
  };
}
