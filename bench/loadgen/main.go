// Command loadgen drives a celgate webhook over TLS keep-alive connections for a fixed time
// and prints one "CELGATE_RESULT {json}" line (latencies in microseconds).
//
//	loadgen -url https://127.0.0.1:PORT/validate -ca ca.pem -body review.json -c 64 -d 10s -warmup 2s
//
// Each of the -c connections is its own http.Transport limited to one connection, so exactly
// -c TLS connections are opened and kept alive; each sends the body back to back (closed loop).
// Latencies of the measuring window are all recorded and sorted, so percentiles are exact.
// An answer counts as allowed only when it is HTTP 200 and response.allowed is true; denied
// (allowed false with a code other than 500) and failed-closed (allowed false, code 500)
// answers are counted apart, as are transport errors and client timeouts.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

type review struct {
	Response struct {
		Allowed bool `json:"allowed"`
		Status  struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
	} `json:"response"`
}

type counts struct {
	requests, connectErrors, readErrors, timeouts, non200, denied, failedClosed int64
}

type worker struct {
	client    *http.Client
	latencies []time.Duration
	counts    counts
	firstBad  string
}

// measuring is set once the warm-up is over; workers record only while it is set.
var measuring atomic.Bool

func (w *worker) run(ctx context.Context, url string, body []byte) {
	for ctx.Err() == nil {
		started := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := w.client.Do(req)
		record := measuring.Load()
		if err != nil {
			if ctx.Err() != nil {
				return // the window closed mid-request: neither a sample nor an error
			}
			if record {
				w.classify(err)
			}
			time.Sleep(10 * time.Millisecond) // do not spin on a refusing server
			continue
		}
		payload, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		elapsed := time.Since(started)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if record {
				w.classify(err)
			}
			continue
		}
		if !record {
			continue
		}
		w.counts.requests++
		w.latencies = append(w.latencies, elapsed)
		if resp.StatusCode != http.StatusOK {
			w.counts.non200++
			w.bad(fmt.Sprintf("HTTP %d: %.300s", resp.StatusCode, payload))
			continue
		}
		var answer review
		if err := json.Unmarshal(payload, &answer); err != nil {
			w.counts.non200++
			w.bad(fmt.Sprintf("unreadable answer: %v: %.300s", err, payload))
			continue
		}
		if !answer.Response.Allowed {
			if answer.Response.Status.Code == 500 {
				w.counts.failedClosed++
			} else {
				w.counts.denied++
			}
			w.bad(fmt.Sprintf("allowed=false code %d: %.300s", answer.Response.Status.Code, answer.Response.Status.Message))
		}
	}
}

func (w *worker) classify(err error) {
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		w.counts.timeouts++
	case errors.As(err, &opErr) && opErr.Op == "dial":
		w.counts.connectErrors++
	default:
		w.counts.readErrors++
	}
	w.bad(err.Error())
}

func (w *worker) bad(message string) {
	if w.firstBad == "" {
		w.firstBad = message
	}
}

func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	index := int(q*float64(len(sorted)-1) + 0.5)
	return float64(sorted[index].Microseconds())
}

func main() {
	url := flag.String("url", "", "the webhook URL (https://host:port/validate)")
	caFile := flag.String("ca", "", "PEM file of the CA that signed the server certificate")
	bodyFile := flag.String("body", "", "file holding the AdmissionReview to POST")
	connections := flag.Int("c", 1, "concurrent keep-alive connections")
	duration := flag.Duration("d", 10*time.Second, "measuring window")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time first, on the same connections")
	timeout := flag.Duration("timeout", 30*time.Second, "per-request client timeout")
	flag.Parse()
	if *url == "" || *caFile == "" || *bodyFile == "" || *connections < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -url, -ca and -body are required; -c and -d must be positive")
		os.Exit(2)
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		fmt.Fprintln(os.Stderr, "loadgen: no certificate in", *caFile)
		os.Exit(2)
	}

	workers := make([]*worker, *connections)
	for i := range workers {
		transport := &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxConnsPerHost:     1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     0,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1, as uvicorn speaks
		}
		workers[i] = &worker{client: &http.Client{Transport: transport, Timeout: *timeout}}
	}

	ctx, cancel := context.WithTimeout(context.Background(), *warmup+*duration)
	defer cancel()
	var group sync.WaitGroup
	for _, w := range workers {
		group.Add(1)
		go func(w *worker) {
			defer group.Done()
			w.run(ctx, *url, body)
		}(w)
	}
	time.Sleep(*warmup)
	measuring.Store(true)
	began := time.Now()
	group.Wait()
	window := time.Since(began)

	var total counts
	var latencies []time.Duration
	firstBad := ""
	for _, w := range workers {
		total.requests += w.counts.requests
		total.connectErrors += w.counts.connectErrors
		total.readErrors += w.counts.readErrors
		total.timeouts += w.counts.timeouts
		total.non200 += w.counts.non200
		total.denied += w.counts.denied
		total.failedClosed += w.counts.failedClosed
		latencies = append(latencies, w.latencies...)
		if firstBad == "" {
			firstBad = w.firstBad
		}
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	result := map[string]any{
		"connections":    *connections,
		"duration_us":    window.Microseconds(),
		"requests":       total.requests,
		"p50_us":         percentile(latencies, 0.50),
		"p99_us":         percentile(latencies, 0.99),
		"p999_us":        percentile(latencies, 0.999),
		"max_us":         percentile(latencies, 1.0),
		"connect_errors": total.connectErrors,
		"read_errors":    total.readErrors,
		"timeouts":       total.timeouts,
		"non200":         total.non200,
		"denied":         total.denied,
		"failed_closed":  total.failedClosed,
		"first_bad":      firstBad,
	}
	line, _ := json.Marshal(result)
	fmt.Printf("CELGATE_RESULT %s\n", line)
}
