import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's numbering: 1 internal, 2 server, 3 client. */
  readonly kind: number;
}

export interface Collector {
  readonly server: Server;
  readonly url: string;
  readonly spans: ReceivedSpan[];
  /** Every export as received, decoded as text: what a tracing backend would store. */
  readonly bodies: string[];
  /** The Content-Type of every export, in order. */
  readonly contentTypes: string[];
}

/**
 * An OTLP/HTTP collector in this process: POST /v1/traces in either encoding the exporters speak
 * (`application/x-protobuf` or `application/json`), every span kept.
 */
export async function startCollector(): Promise<Collector> {
  const collector = { spans: [] as ReceivedSpan[], bodies: [] as string[], contentTypes: [] as string[] };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      const contentType = request.headers["content-type"] ?? "";
      if (request.url === "/v1/traces") {
        collector.contentTypes.push(contentType);
        collector.bodies.push(body.toString("utf8"));
        collector.spans.push(...(contentType.includes("protobuf") ? protobufSpans(body) : jsonSpans(body.toString("utf8"))));
      }
      // An empty ExportTraceServiceResponse, in the encoding asked in.
      response.writeHead(200, { "content-type": contentType.includes("protobuf") ? "application/x-protobuf" : "application/json" });
      response.end(contentType.includes("protobuf") ? "" : "{}");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ...collector };
}

/** OTLP/JSON ids arrive as hex (the JS exporter's) or base64 (the spec's protobuf JSON mapping): hex either way. */
const hex = (id: string | undefined) => (!id ? "" : /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, "base64").toString("hex"));

function jsonSpans(body: string): ReceivedSpan[] {
  const payload = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: Record<string, string | number>[] }[] }[] };
  return payload.resourceSpans.flatMap((resource) =>
    resource.scopeSpans.flatMap((scope) =>
      scope.spans.map((span) => ({ traceId: hex(String(span.traceId)), spanId: hex(String(span.spanId)), parentSpanId: hex(span.parentSpanId as string), name: String(span.name), kind: Number(span.kind) })),
    ),
  );
}

/** ExportTraceServiceRequest → ResourceSpans (1) → ScopeSpans (2) → Span (2), with the Span fields we assert on. */
function protobufSpans(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resource of messages(body, 1))
    for (const scope of messages(resource, 2))
      for (const span of messages(scope, 2)) {
        const fields = protobufFields(span);
        const bytes = (number: number) => fields.find((field) => field.number === number)?.value;
        const text = (number: number) => (bytes(number) as Buffer | undefined)?.toString(number === 5 ? "utf8" : "hex") ?? "";
        spans.push({ traceId: text(1), spanId: text(2), parentSpanId: text(4), name: text(5), kind: Number(bytes(6) ?? 0) });
      }
  return spans;
}

const messages = (buffer: Buffer, number: number) => protobufFields(buffer).flatMap((field) => (field.number === number && Buffer.isBuffer(field.value) ? [field.value] : []));

/** The protobuf wire format, one level deep: varints as numbers, length-delimited fields as bytes. */
function protobufFields(buffer: Buffer): { number: number; value: number | Buffer }[] {
  const fields: { number: number; value: number | Buffer }[] = [];
  let position = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = buffer[position++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (position < buffer.length) {
    const tag = varint();
    const number = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0:
        fields.push({ number, value: varint() });
        break;
      case 1:
        position += 8;
        break;
      case 2: {
        const length = varint();
        fields.push({ number, value: buffer.subarray(position, position + length) });
        position += length;
        break;
      }
      case 5:
        position += 4;
        break;
      default:
        throw new Error(`unexpected protobuf wire type ${tag & 7}`);
    }
  }
  return fields;
}
