/**
 * Prometheus metrics of the forwarder: the text exposition and the `/metrics` endpoint.
 *
 * @module
 */
export {
  escapeLabelValue,
  METRICS_CONTENT_TYPE,
  type MetricsInfo,
  renderMetrics,
} from "./render.ts";
export {
  type MetricsServer,
  type MetricsSource,
  parseListenAddress,
  serveMetrics,
} from "./serve.ts";
