package loadgen

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRawConn drives the minimal client against net/http's server: every
// way an answer can be framed, request bodies and headers as the server
// sees them, and one connection kept across requests.
func TestRawConn(t *testing.T) {
	var conns atomic.Int64
	big := strings.Repeat("x", 10_000)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(r.Header.Get("Content-Type") + "|" + r.URL.RawQuery + "|" + string(b)))
		case "/chunked":
			for range 3 {
				w.Write([]byte(big))
				w.(http.Flusher).Flush()
			}
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/refuse":
			http.Error(w, "no such secret", http.StatusUnauthorized)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := newDoer(baseOf(srv.URL+"/x"), &net.Dialer{Timeout: time.Second}, nil)
	_, ok := c.(*rawConn)
	require.True(t, ok, "an http URL gets the raw client")
	defer c.close()

	cases := []struct {
		name, method, path string
		header             [][2]string
		body               string
		code               int
		answer             string
		conns              int64 // connections opened so far
	}{
		{"post with a body", http.MethodPost, "/echo?a=1", [][2]string{{"Content-Type", "text/plain"}}, "hello", 201, "text/plain|a=1|hello", 1},
		{"get without a body", http.MethodGet, "/echo?b=2", nil, "", 201, "|b=2|", 1},
		{"empty post", http.MethodPost, "/echo", nil, "", 201, "||", 1},
		{"chunked, longer than kept", http.MethodGet, "/chunked", nil, "", 200, big[:maxKeptBody], 1},
		{"no content", http.MethodGet, "/empty", nil, "", 204, "", 1},
		{"error answer", http.MethodGet, "/refuse", nil, "", 401, "no such secret\n", 1},
		{"server closes after", http.MethodGet, "/close", nil, "", 200, "bye", 1},
		{"reconnects", http.MethodGet, "/echo?c=3", nil, "", 201, "|c=3|", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			code, answer, err := c.do(tc.method, srv.URL+tc.path, tc.header, body)
			require.NoError(t, err)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.answer, string(answer))
			require.Equal(t, tc.conns, conns.Load())
		})
	}

	_, _, err := c.do(http.MethodGet, "http://elsewhere.example/x", nil, nil)
	require.ErrorContains(t, err, "is not a URL under")

	// A server that answers garbage is an error, and the next request
	// gets a fresh connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 1024)
				conn.Read(buf)
				conn.Write([]byte("SSH-2.0-OpenSSH\r\n\r\n"))
			}()
		}
	}()
	g := newDoer("http://"+ln.Addr().String(), &net.Dialer{Timeout: time.Second}, nil)
	defer g.close()
	for range 2 {
		_, _, err = g.do(http.MethodGet, "http://"+ln.Addr().String()+"/", nil, nil)
		require.ErrorIs(t, err, errMalformed)
	}
}

func TestNewDoerFallsBackToNetHTTP(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("tls"))
	}))
	defer srv.Close()
	c := newDoer(baseOf(srv.URL), nil, func() *http.Transport { return srv.Client().Transport.(*http.Transport) })
	_, ok := c.(*stdClient)
	require.True(t, ok)
	code, answer, err := c.do(http.MethodGet, srv.URL+"/", nil, nil)
	require.NoError(t, err)
	require.Equal(t, 200, code)
	require.Equal(t, "tls", string(answer))
	c.close()
}
