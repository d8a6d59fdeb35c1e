package main

import (
	"strings"
	"testing"
	"time"
)

const wrkReport = `Running 5s test @ http://127.0.0.1:3006/v1/system/update-status
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   580.60us    1.12ms  24.03ms   93.79%
    Req/Sec    16.67k     2.11k   21.89k    72.00%
  Latency Distribution
     50%  296.00us
     75%  442.00us
     90%    1.02ms
     99%    %s
  165890 requests in 5.00s, 35.49MB read
Requests/sec:  33177.94
Transfer/sec:      7.10MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name, out string
		rate      float64
		p99       time.Duration
		ok        bool
	}{
		{"ms", fmtReport("5.81ms"), 33177.94, 5810 * time.Microsecond, true},
		{"us", fmtReport("812.00us"), 33177.94, 812 * time.Microsecond, true},
		{"s", fmtReport("1.20s"), 33177.94, 1200 * time.Millisecond, true},
		{"errors", fmtReport("1.00ms") + "  Non-2xx or 3xx responses: 12\n", 0, 0, false},
		{"no latency", "Requests/sec:  100.00\n", 0, 0, false},
		{"empty", "", 0, 0, false},
	}
	for _, tt := range tests {
		r, err := parseWrk(tt.out)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if tt.ok && (r.rate != tt.rate || r.p99 != tt.p99) {
			t.Errorf("%s: got %+v, want rate %v p99 %v", tt.name, r, tt.rate, tt.p99)
		}
	}
}

func fmtReport(p99 string) string { return strings.Replace(wrkReport, "%s", p99, 1) }
