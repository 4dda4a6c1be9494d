/**
 * A reference encoder for Envoy's gRPC access-log messages (protobufjs over a
 * subset of envoy.data.accesslog.v3 / envoy.service.accesslog.v3, field
 * numbers as in Envoy's API), to check the sidecar's hand-written decoder.
 */
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package ref;
message Duration { int64 seconds = 1; int32 nanos = 2; }
message UInt32Value { uint32 value = 1; }
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message Unauthorized { int32 reason = 1; }
message ResponseFlags {
  bool failed_local_healthcheck = 1; bool no_healthy_upstream = 2; bool upstream_request_timeout = 3;
  bool local_reset = 4; bool upstream_remote_reset = 5; bool upstream_connection_failure = 6;
  bool upstream_connection_termination = 7; bool upstream_overflow = 8; bool no_route_found = 9;
  Unauthorized unauthorized_details = 13; bool downstream_connection_termination = 15;
  bool upstream_retry_limit_exceeded = 16; bool stream_idle_timeout = 17; bool downstream_remote_reset = 28;
}
message AccessLogCommon {
  double sample_rate = 1; Timestamp start_time = 5;
  Duration time_to_last_rx_byte = 6; Duration time_to_first_upstream_rx_byte = 9;
  Duration time_to_last_upstream_rx_byte = 10; Duration time_to_last_downstream_tx_byte = 12;
  string upstream_cluster = 15; ResponseFlags response_flags = 16; string route_name = 19;
  map<string, string> custom_tags = 22; Duration duration = 23; uint32 upstream_request_attempt_count = 24;
  bool intermediate_log_entry = 26;
}
message HTTPRequestProperties { string path = 5; uint64 request_body_bytes = 12; map<string, string> request_headers = 13; }
message HTTPResponseProperties {
  UInt32Value response_code = 1; uint64 response_headers_bytes = 2; uint64 response_body_bytes = 3;
  map<string, string> response_headers = 4; map<string, string> response_trailers = 5; string response_code_details = 6;
}
message HTTPAccessLogEntry { AccessLogCommon common_properties = 1; int32 protocol_version = 2; HTTPRequestProperties request = 3; HTTPResponseProperties response = 4; }
message HTTPAccessLogEntries { repeated HTTPAccessLogEntry log_entry = 1; }
message Identifier { string log_name = 2; }
message StreamAccessLogsMessage { Identifier identifier = 1; HTTPAccessLogEntries http_logs = 2; }
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const Message = root.lookupType('ref.StreamAccessLogsMessage');

/** Encodes a StreamAccessLogsMessage given as a plain object (snake_case field names). */
export function encodeAccessLogs(obj: object): Buffer {
  const err = Message.verify(obj);
  if (err) throw new Error(err);
  return Buffer.from(Message.encode(Message.fromObject(obj)).finish());
}

/** google.protobuf.Duration for `ms` milliseconds. */
export const dur = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) });
