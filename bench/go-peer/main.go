// eb-go-peer: a minimal ext_proc server in Go (grpc-go + go-control-plane's
// ext_proc v3 types), the yardstick `npm run bench -- --only envoy-peer`
// measures envoy-bandit against. It does the same protocol work as the
// sidecar in each of its modes, nothing more:
//
//   - request headers: a weighted pick of one of three clusters, set
//     x-bandit-cluster, x-bandit-decision-id and x-bandit-arm, clear the route cache;
//   - response headers (two-phase mode, envoy/envoy.yaml): read :status and
//     add x-bandit-arm and x-bandit-decision-id;
//   - Envoy's gRPC access log (one-phase mode, envoy/envoy-accesslog.yaml):
//     read each entry's status and decision id, answer when Envoy ends the stream.
//
// Any other phase is answered in kind, unchanged. With -backends it is instead
// the benchmark's three model backends (HTTP/1.1, 200 and a small JSON body),
// so the backends cost the load core little. Build: scripts/setup-go-tools.mjs.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

var (
	clusters = []string{"model_a", "model_b", "model_c"}
	arms     = []string{"model-a", "model-b", "model-c"}
	weights  = []float64{0.5, 0.3, 0.2}
	nextID   atomic.Uint64
	logged   atomic.Uint64
)

func pick() int {
	u := rand.Float64()
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

func header(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: key, RawValue: []byte(value)}}
}

func headerValue(hs *corev3.HeaderMap, key string) string {
	for _, h := range hs.GetHeaders() {
		if h.GetKey() == key {
			if len(h.GetRawValue()) > 0 {
				return string(h.GetRawValue())
			}
			return h.GetValue()
		}
	}
	return ""
}

type extProc struct {
	extprocv3.UnimplementedExternalProcessorServer
}

func (extProc) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	arm, id := -1, ""
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err // Envoy resets every stream once answered
		}
		var resp *extprocv3.ProcessingResponse
		switch r := req.Request.(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			arm, id = pick(), "d"+strconv.FormatUint(nextID.Add(1), 36)
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
				Response: &extprocv3.CommonResponse{
					HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
						header("x-bandit-cluster", clusters[arm]), header("x-bandit-decision-id", id), header("x-bandit-arm", arms[arm]),
					}},
					ClearRouteCache: true,
				},
			}}}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			_ = headerValue(r.ResponseHeaders.GetHeaders(), ":status")
			common := &extprocv3.CommonResponse{}
			if arm >= 0 {
				common.HeaderMutation = &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
					header("x-bandit-arm", arms[arm]), header("x-bandit-decision-id", id),
				}}
			}
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{Response: common}}}
		case *extprocv3.ProcessingRequest_RequestBody:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
		case *extprocv3.ProcessingRequest_ResponseBody:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
		case *extprocv3.ProcessingRequest_RequestTrailers:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
		case *extprocv3.ProcessingRequest_ResponseTrailers:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
		default:
			return fmt.Errorf("unexpected ProcessingRequest %T", r)
		}
		if req.GetObservabilityMode() {
			continue
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

type accessLog struct {
	alsv3.UnimplementedAccessLogServiceServer
}

func (accessLog) StreamAccessLogs(stream alsv3.AccessLogService_StreamAccessLogsServer) error {
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&alsv3.StreamAccessLogsResponse{})
		}
		if err != nil {
			return err
		}
		for _, e := range msg.GetHttpLogs().GetLogEntry() {
			_ = e.GetResponse().GetResponseCode().GetValue()
			if e.GetRequest().GetRequestHeaders()["x-bandit-decision-id"] != "" {
				logged.Add(1)
			}
		}
	}
}

func serveBackends(addrs string) {
	for i, a := range strings.Split(addrs, ",") {
		body := []byte(`{"model":` + strconv.Itoa(i) + `}`)
		lis, err := net.Listen("tcp", a)
		if err != nil {
			log.Fatalf("eb-go-peer: listen %s: %v", a, err)
		}
		go func() {
			log.Fatal(http.Serve(lis, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("content-type", "application/json")
				_, _ = w.Write(body)
			})))
		}()
	}
	fmt.Println("listening", addrs)
	select {}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50061", "listen address (host:port)")
	backends := flag.String("backends", "", "serve the model backends on these comma-separated host:port instead")
	flag.Parse()
	if *backends != "" {
		serveBackends(*backends)
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("eb-go-peer: listen %s: %v", *addr, err)
	}
	s := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(s, extProc{})
	alsv3.RegisterAccessLogServiceServer(s, accessLog{})
	healthpb.RegisterHealthServer(s, health.NewServer())
	fmt.Printf("listening %s\n", lis.Addr())
	if err := s.Serve(lis); err != nil {
		log.Fatalf("eb-go-peer: %v", err)
	}
}
