// The container HEALTHCHECK: exit 0 when /healthz answers 200 within 3 s, else 1. Node's fetch,
// so the image needs no curl. LINESIGHT_HEALTHCHECK_URL overrides the address (another api.port).
const url = process.env.LINESIGHT_HEALTHCHECK_URL ?? 'http://127.0.0.1:8080/healthz';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  process.exit(res.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
